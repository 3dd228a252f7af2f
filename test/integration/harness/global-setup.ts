/**
 * vitest globalSetup for the `integration` project: one private dockerd (with
 * the local/busybox:1 image) for the whole run. Provides `integration` and
 * `dockerSock` (see context.ts).
 */
import type { TestProject } from 'vitest/node';
import './context.js';
import { canRunDockerd, ensureBusyboxImage, setDefaultDockerSock, startDockerd, type Dockerd } from './dockerd.js';
import { freePort } from './socket-proxy.js';
import { makeTestCertificates } from '../../support/certs.js';

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width + 2);
  return ['', bar, ...lines.map((l) => `!  ${l.padEnd(width - 2)}!`), bar, ''].join('\n');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const check = canRunDockerd();
  if (!check.ok) {
    const reason = check.reason ?? 'unknown reason';
    if (process.env.CI === 'true') {
      throw new Error(`CI=true but the integration suite cannot run: ${reason}`);
    }
    process.stderr.write(
      banner([
        'INTEGRATION SUITE SKIPPED',
        '',
        ...reason.split('; ').map((r) => `- ${r}`),
        '',
        'The integration tests need root, dockerd (docker.io), haproxy and',
        'busybox-static. Run .ci/run on a Debian 12 machine (as root) for the',
        'real chain. With CI=true this is an error, not a skip.',
      ]),
    );
    project.provide('integration', false);
    project.provide('dockerSock', '');
    project.provide('dockerTls', { url: '', certDir: '' });
    return async () => {};
  }

  const started = Date.now();
  let daemon: Dockerd | undefined;
  // The daemon also listens on loopback TCP with --tlsverify, as a remote daemon would: the upstream TLS tests
  // reach it there with a client certificate.
  const certs = makeTestCertificates('dockerd');
  const tlsPort = await freePort();
  try {
    daemon = await startDockerd({
      extraArgs: [
        '--host', `tcp://127.0.0.1:${tlsPort}`,
        '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey,
      ],
    });
    setDefaultDockerSock(daemon.sock);
    await ensureBusyboxImage(daemon.host);
  } catch (err) {
    await daemon?.stop();
    throw err;
  }
  process.stderr.write(`[integration] private dockerd pid ${daemon.pid} on ${daemon.sock} ready in ${Date.now() - started} ms\n`);
  project.provide('integration', true);
  project.provide('dockerSock', daemon.sock);
  project.provide('dockerTls', { url: `https://127.0.0.1:${tlsPort}`, certDir: certs.clientDir });

  const d = daemon;
  return async () => {
    await d.stop();
    setDefaultDockerSock(undefined);
  };
}
