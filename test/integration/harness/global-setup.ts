/**
 * vitest globalSetup for the `integration` project: one private dockerd (with
 * the local/busybox:1 image) and, started in parallel, one private rootful
 * Podman service (same image) for the whole run. Provides `integration`,
 * `dockerSock`, `dockerTls` and `podmanSock` (see context.ts).
 */
import type { TestProject } from 'vitest/node';
import './context.js';
import { canRunDockerd, ensureBusyboxImage, setDefaultDockerSock, startDockerd, type Dockerd } from './dockerd.js';
import { canRunPodman, ensurePodmanBusyboxImage, podmanVersion, startPodman, type Podman } from './podman.js';
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
    project.provide('podmanSock', '');
    return async () => {};
  }

  const started = Date.now();
  let daemon: Dockerd | undefined;
  // The daemon also listens on loopback TCP with --tlsverify, as a remote daemon would: the upstream TLS tests
  // reach it there with a client certificate.
  const certs = makeTestCertificates('dockerd');
  const tlsPort = await freePort();
  // Podman starts alongside dockerd (service and image take about a second, about as long as dockerd).
  const podmanTask = startPrivatePodman();
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
    const pm = await podmanTask;
    if (pm.ok) await pm.podman.stop();
    throw err;
  }
  process.stderr.write(`[integration] private dockerd pid ${daemon.pid} on ${daemon.sock} ready in ${Date.now() - started} ms\n`);

  const pm = await podmanTask;
  let podman: Podman | undefined;
  if (pm.ok) {
    podman = pm.podman;
    process.stderr.write(`[integration] private podman service pid ${podman.pid} on ${podman.sock} ready in ${pm.ms} ms (${podmanVersion() ?? 'podman'})\n`);
  } else if (process.env.CI === 'true') {
    await daemon.stop();
    throw new Error(`CI=true but the Podman integration tests cannot run: ${pm.reason}`);
  } else {
    process.stderr.write(
      banner([
        'PODMAN INTEGRATION TESTS SKIPPED',
        '',
        ...pm.reason
          .split(/; |\n/)
          .filter((r) => r.trim() !== '')
          .map((r) => `- ${r.length > 100 ? `${r.slice(0, 99)}…` : r}`),
        '',
        'The Podman tests need root, podman (Debian 12: 4.3.1), conmon and runc.',
        'Run .ci/run on a Debian 12 machine (as root) for them. With CI=true',
        'this is an error, not a skip.',
      ]),
    );
  }
  project.provide('integration', true);
  project.provide('dockerSock', daemon.sock);
  project.provide('dockerTls', { url: `https://127.0.0.1:${tlsPort}`, certDir: certs.clientDir });
  project.provide('podmanSock', podman?.sock ?? '');

  const d = daemon;
  const p = podman;
  return async () => {
    await Promise.all([d.stop(), p?.stop()]);
    setDefaultDockerSock(undefined);
  };
}

type PodmanStart = { ok: true; podman: Podman; ms: number } | { ok: false; reason: string };

/** Start the private Podman service and import the busybox image; never rejects. */
async function startPrivatePodman(): Promise<PodmanStart> {
  const check = canRunPodman();
  if (!check.ok) return { ok: false, reason: check.reason ?? 'unknown reason' };
  const started = Date.now();
  let podman: Podman | undefined;
  try {
    podman = await startPodman();
    await ensurePodmanBusyboxImage(podman.url, podman.dir);
    return { ok: true, podman, ms: Date.now() - started };
  } catch (err) {
    const log = podman?.logTail(20);
    await podman?.stop();
    const msg = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: log ? `${msg}\nService log tail:\n${log}` : msg };
  }
}
