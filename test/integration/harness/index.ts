/**
 * What integration tests import:
 *
 *   import { requireIntegration, docker, runContainer, startSocketProxy, dockerSock } from './harness/index.js';
 *   const describeIntegration = requireIntegration();
 *   describeIntegration('…', () => { … });
 */
import { describe, inject } from 'vitest';
import './context.js';
import { setDefaultDockerSock } from './dockerd.js';
import { setDefaultPodmanSock } from './podman.js';

export {
  BUSYBOX_IMAGE,
  docker,
  dockerCliEnv,
  dockerOk,
  engineRequest,
  findBinary,
  getDefaultDockerSock,
  pingSocket,
  removeContainers,
  runContainer,
  setDefaultDockerSock,
  type DockerOptions,
  type DockerResult,
  type RunContainerOptions,
} from './dockerd.js';
export {
  PODMAN_CONTAINERS_CONF,
  getDefaultPodmanSock,
  podman,
  podmanDir,
  podmanEnv,
  podmanOk,
  removePodmanContainers,
  runPodmanContainer,
  setDefaultPodmanSock,
  type PodmanOptions,
  type RunPodmanContainerOptions,
} from './podman.js';
export { startSieve, type RunningSieve } from './sieve.js';
export { SOCKET_PROXY_DEFAULTS, freePort, startSocketProxy, type SocketProxy } from './socket-proxy.js';

/** True when globalSetup started the private dockerd. */
export function integrationEnabled(): boolean {
  return inject('integration') === true;
}

/** Path of the private dockerd's unix socket. Throws when the suite is skipped. */
export function dockerSock(): string {
  const sock = inject('dockerSock');
  if (!sock) throw new Error('no private dockerd (integration suite is skipped)');
  return sock;
}

/** The private dockerd on loopback TCP with --tlsverify, and a client certificate for it. */
export function dockerTls(): { url: string; certDir: string } {
  return inject('dockerTls');
}

/** `describe` when the private dockerd is up, `describe.skip` otherwise. */
export function requireIntegration(): typeof describe {
  return integrationEnabled() ? describe : (describe.skip as typeof describe);
}

/** True when globalSetup also started the private Podman service. */
export function podmanEnabled(): boolean {
  return integrationEnabled() && inject('podmanSock') !== '';
}

/** Path of the private Podman service's unix socket. Throws when the Podman tests are skipped. */
export function podmanSock(): string {
  const sock = inject('podmanSock');
  if (!sock) throw new Error('no private Podman service (the Podman tests are skipped)');
  return sock;
}

/** `describe` when the private Podman service is up, `describe.skip` otherwise. */
export function requirePodman(): typeof describe {
  return podmanEnabled() ? describe : (describe.skip as typeof describe);
}

// Point docker()/runContainer() at the private daemon by default, and podman()/runPodmanContainer() at the
// private Podman service.
if (integrationEnabled()) setDefaultDockerSock(inject('dockerSock'));
if (podmanEnabled()) setDefaultPodmanSock(inject('podmanSock'));
