// The listeners of a config file: TCP, TLS (with client certificates when it has a `ca`) and unix sockets, each
// a server of its own that hands its requests to the one app (fastify.routing) and its upgrades to the relay.
// Each connection is tagged with its listener, so the edge knows which profile a listener gives.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ListenerSpec } from '../config/file.js';
import { httpsServerOptions, watchTlsFiles, type TlsReloader } from './tls.js';
import { tagConnection } from './client.js';

export interface RunningListener {
  readonly spec: ListenerSpec;
  readonly server: Server;
  /** `tcp://host:port` or `unix:///path`, for logs and tests. */
  readonly url: string;
  /** Reads the TLS certificates again (SIGHUP); a no-op without TLS. */
  reloadTls(): void;
  close(graceMs: number): Promise<void>;
}

export function describeListener(spec: ListenerSpec): string {
  if (spec.kind === 'unix') return `unix://${spec.socket}`;
  return `${spec.tls === undefined ? 'tcp' : 'tls'}://${spec.address ?? '*'}:${spec.port}`;
}

/** Two listener lists that would listen the same way: a reload may not change them. */
export function sameListeners(a: readonly ListenerSpec[], b: readonly ListenerSpec[]): boolean {
  const key = (list: readonly ListenerSpec[]): string => JSON.stringify(list.map(({ where: _where, ...rest }) => rest));
  return key(a) === key(b);
}

export async function startListeners(
  app: FastifyInstance,
  specs: readonly ListenerSpec[],
  attachUpgrades: (server: Server) => void,
  config: Config,
  log: Logger,
): Promise<RunningListener[]> {
  const started: RunningListener[] = [];
  try {
    for (const spec of specs) started.push(await startListener(app, spec, attachUpgrades, config, log));
  } catch (error) {
    await Promise.all(started.map((listener) => listener.close(0)));
    throw error;
  }
  return started;
}

async function startListener(
  app: FastifyInstance,
  spec: ListenerSpec,
  attachUpgrades: (server: Server) => void,
  config: Config,
  log: Logger,
): Promise<RunningListener> {
  const options = {
    // Slow clients (slowloris) are cut when their headers do not arrive in time.
    headersTimeout: config.timeouts.clientHeadersMs,
    connectionsCheckingInterval: Math.min(1_000, config.timeouts.clientHeadersMs),
    // Between requests only: a response in progress, however quiet, is never cut.
    keepAliveTimeout: config.timeouts.clientIdleMs,
    // Long streams (events, logs -f, stats) must not be cut by the server.
    requestTimeout: 0,
  };
  const handler = (request: Parameters<FastifyInstance['routing']>[0], response: Parameters<FastifyInstance['routing']>[1]): void =>
    app.routing(request, response);
  const tls = spec.kind === 'tcp' ? spec.tls : undefined;
  const server: Server =
    tls === undefined ? createHttpServer(options, handler) : (createHttpsServer({ ...httpsServerOptions(tls), ...options }, handler) as unknown as Server);
  const info = { profile: spec.profile, unix: spec.kind === 'unix' };
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => tagConnection(socket, info));
  attachUpgrades(server);
  const reloader: TlsReloader | undefined = tls === undefined ? undefined : watchTlsFiles(server as unknown as HttpsServer, tls, log);

  if (spec.kind === 'unix') {
    removeStaleSocket(spec.socket);
    await listen(server, { path: spec.socket });
    // Who may connect is who may open the file: 0660 unless the file says otherwise.
    chmodSync(spec.socket, spec.mode);
  } else if (spec.address !== undefined) {
    await listen(server, { port: spec.port, host: spec.address });
  } else {
    try {
      // `::` is every interface, IPv4 included, wherever IPv6 is enabled.
      await listen(server, { port: spec.port, host: '::' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
      await listen(server, { port: spec.port, host: '0.0.0.0' });
    }
  }
  const address = server.address();
  const url =
    spec.kind === 'unix'
      ? `unix://${spec.socket}`
      : `tcp://${typeof address === 'object' && address !== null ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : spec.port}`;
  log.info({ listener: describeListener(spec), profile: spec.profile }, 'listening');
  return {
    spec,
    server,
    url,
    reloadTls: () => reloader?.reload('SIGHUP'),
    async close(graceMs) {
      reloader?.close();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(force);
      if (spec.kind === 'unix') removeStaleSocket(spec.socket);
    },
  };
}

function listen(server: Server, options: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A socket file left by an earlier run would make listen fail with EADDRINUSE; anything else is not ours to remove. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
