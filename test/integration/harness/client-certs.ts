/**
 * More client certificates from the CA of test/support/certs.ts (makeTestCertificates), each with the subject
 * CN a test names, laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem). openssl, all local.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCertificates } from '../../support/certs.js';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A client certificate with subject `/CN=<cn>`, signed by `certs`' CA; returns its directory. */
export function makeClientCertDir(certs: TestCertificates, cn: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(cn)) throw new Error(`makeClientCertDir: keep the CN simple, not ${JSON.stringify(cn)}`);
  const dir = certs.dir;
  const base = `client-cn-${cn}`;
  writeFileSync(join(dir, `${base}.ext`), 'extendedKeyUsage=clientAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${base}-key.pem`, '-out', `${base}.csr`], dir);
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.pem`], dir);
  const out = join(dir, `${base}-dir`);
  mkdirSync(out);
  copyFileSync(certs.ca, join(out, 'ca.pem'));
  copyFileSync(join(dir, `${base}.pem`), join(out, 'cert.pem'));
  copyFileSync(join(dir, `${base}-key.pem`), join(out, 'key.pem'));
  return out;
}
