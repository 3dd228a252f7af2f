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

// Point docker()/runContainer() at the private daemon by default.
if (integrationEnabled()) setDefaultDockerSock(inject('dockerSock'));
