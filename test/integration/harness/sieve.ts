// docker-sieve in-process, listening on loopback, for the integration tests.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import { parseConfig, type Env } from '../../../src/config.js';

export interface RunningSieve {
  app: FastifyInstance;
  port: number;
  /** DOCKER_HOST for the docker CLI. */
  host: string;
  /** Base URL for HTTP clients. */
  url: string;
}

export async function startSieve(env: Env): Promise<RunningSieve> {
  const app = await buildApp({ config: parseConfig({ LOG_LEVEL: 'silent', ...env }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, port, host: `tcp://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
}
