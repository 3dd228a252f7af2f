// Certificates made at test time with openssl: a CA, a server certificate for 127.0.0.1/localhost, and a client
// certificate, laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem) for the client side.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A directory with ca.pem, cert.pem and key.pem of a client the CA signed. */
  clientDir: string;
  /** A client certificate from another CA, which must be refused. */
  strangerDir: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`], dir);
}

function signed(dir: string, ca: string, name: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
}

function clientDir(dir: string, ca: string, name: string): string {
  signed(dir, ca, name, 'extendedKeyUsage=clientAuth\n');
  const out = join(dir, `${name}-dir`);
  mkdirSync(out);
  execFileSync('cp', [join(dir, `${ca}.pem`), join(out, 'ca.pem')]);
  execFileSync('cp', [join(dir, `${name}.pem`), join(out, 'cert.pem')]);
  execFileSync('cp', [join(dir, `${name}-key.pem`), join(out, 'key.pem')]);
  return out;
}

export function makeTestCertificates(serverName = 'server'): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-certs-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  signed(dir, 'ca', serverName, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, `${serverName}.pem`),
    serverKey: join(dir, `${serverName}-key.pem`),
    clientDir: clientDir(dir, 'ca', 'client'),
    strangerDir: clientDir(dir, 'other-ca', 'stranger'),
  };
}
