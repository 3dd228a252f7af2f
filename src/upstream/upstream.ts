// The one client to PROXY_URL, shared by the pass-through proxy, the resolver and the filters.
import type { Dispatcher } from 'undici';
// The pool alone, not undici's index: the index loads fetch, websocket, the cache and the mock agent too, +7 MB of
// idle RSS that a proxy of one upstream never uses (bench/scenarios/footprint.ts). The same class as undici's
// `Pool` export; test/unit/upstream.test.ts checks that, so an undici that moves it fails loudly.
import { Pool } from './undici-pool.js';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { UpstreamTarget, UpstreamTls } from '../config.js';

/** Headers every daemon answer carries; a synthesized error copies them from a recent real answer. */
const DAEMON_HEADERS = ['api-version', 'docker-experimental', 'ostype', 'server'] as const;

/** Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded, in either direction. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
]);

export function endToEndHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connectionListed = String(headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((name) => name.trim());
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface UpstreamRequest {
  readonly method: string;
  /** Path below PROXY_URL's own path prefix, with `?query` if any. */
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
  /** An AbortSignal, or an EventEmitter that emits 'abort' (undici takes either; the second is cheaper). */
  readonly signal?: AbortSignal | EventEmitter;
  /** Time to the response headers; 0 for none. */
  readonly headersTimeoutMs?: number;
  /** How the request counts in metrics: a gate's lookup, or a filter's fetch (the default). */
  readonly timingKind?: 'lookup' | 'filter';
}

export interface Upstream {
  /** The origin the pool connects to (`http://localhost` for a unix socket). */
  readonly base: string;
  /** The Host header of requests to the upstream: what undici sends for `base`. */
  readonly host: string;
  readonly pathPrefix: string;
  readonly dispatcher: Dispatcher;
  request(request: UpstreamRequest): Promise<Dispatcher.ResponseData>;
  /** Remembers the daemon's identity headers from an answer. */
  observe(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): void;
  daemonHeaders(): Record<string, string>;
  /** Called with the time to the response headers of each request (metrics); unset by default. */
  onTiming: ((kind: 'lookup' | 'forward' | 'filter', seconds: number) => void) | undefined;
  close(): Promise<void>;
}

/** PEM material for an https upstream (a remote dockerd with --tlsverify). */
export interface UpstreamTlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export function readUpstreamTls(files: UpstreamTls): UpstreamTlsMaterial {
  return {
    ...(files.ca === undefined ? {} : { ca: readFileSync(files.ca) }),
    ...(files.cert === undefined ? {} : { cert: readFileSync(files.cert) }),
    ...(files.key === undefined ? {} : { key: readFileSync(files.key) }),
  };
}

export interface UpstreamOptions {
  readonly connectTimeoutMs?: number;
  /** Time to an answer's headers, unless a request sets its own; 0 for none. Bodies are never timed. */
  readonly headersTimeoutMs?: number;
  readonly tls?: UpstreamTlsMaterial;
}

export function createUpstream(target: UpstreamTarget, upstreamOptions: UpstreamOptions = {}): Upstream {
  // No body or header timeout at this level: events, logs -f and attach stay open for as long as they like.
  // Lookups pass their own timeout.
  const defaultHeadersTimeoutMs = upstreamOptions.headersTimeoutMs ?? 0;
  const options = {
    // Forwards take this default; the filters' and lookups' requests pass their own.
    headersTimeout: defaultHeadersTimeoutMs,
    bodyTimeout: 0,
    keepAliveTimeout: 30_000,
    connect: { timeout: upstreamOptions.connectTimeoutMs ?? 5_000, ...upstreamOptions.tls },
  };
  const base = target.kind === 'unix' ? 'http://localhost' : target.origin;
  const pathPrefix = target.kind === 'unix' ? '' : target.pathPrefix;
  const dispatcher =
    target.kind === 'unix' ? new Pool(base, { ...options, socketPath: target.socketPath }) : new Pool(base, options);
  const remembered: Record<string, string> = {};

  const upstream: Upstream = {
    base,
    host: new URL(base).host,
    pathPrefix,
    dispatcher,
    onTiming: undefined,
    async request({ method, path, headers, signal, headersTimeoutMs, timingKind }) {
      const started = upstream.onTiming === undefined ? 0 : performance.now();
      const response = await dispatcher.request({
        method: method as Dispatcher.HttpMethod,
        path: pathPrefix + path,
        headers: headers ?? {},
        signal,
        headersTimeout: headersTimeoutMs ?? defaultHeadersTimeoutMs,
        bodyTimeout: 0,
      });
      upstream.observe(response.headers);
      upstream.onTiming?.(timingKind ?? 'filter', (performance.now() - started) / 1000);
      return response;
    },
    observe(headers) {
      for (const name of DAEMON_HEADERS) {
        const value = headers[name];
        if (typeof value === 'string') remembered[name] = value;
      }
    },
    daemonHeaders() {
      return { ...remembered };
    },
    async close() {
      // Destroyed, not closed: by now the server is closed, and a stream still open (events) would wait forever.
      await dispatcher.destroy();
    },
  };
  return upstream;
}

export interface RawConnectOptions {
  /** Time to connect (and, for https, to finish the TLS handshake). */
  readonly timeoutMs: number;
  /** Extra TLS options for an https upstream (a CA, a client certificate). */
  readonly tls?: Pick<TlsConnectionOptions, 'ca' | 'cert' | 'key'>;
}

/**
 * Opens a connection of its own to the upstream, for a relay that speaks HTTP itself: the upgrade of exec and
 * attach, whose socket the pool cannot hand over. Half-open is allowed, so `docker exec -i` can send its EOF
 * and still read the rest of the output. Resolves once connected (for https, once TLS is up).
 */
export function connectRawUpstream(target: UpstreamTarget, options: RawConnectOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    let ready: 'connect' | 'secureConnect' = 'connect';
    if (target.kind === 'unix') {
      socket = netConnect({ path: target.socketPath, allowHalfOpen: true });
    } else {
      const url = new URL(target.origin);
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const port = Number(url.port || (target.tls ? 443 : 80));
      if (target.tls) {
        ready = 'secureConnect';
        socket = tlsConnect({
          ...options.tls,
          host,
          port,
          servername: isIP(host) === 0 ? host : undefined,
          ALPNProtocols: ['http/1.1'],
          allowHalfOpen: true,
        } as TlsConnectionOptions);
      } else {
        socket = netConnect({ host, port, allowHalfOpen: true });
      }
    }
    const timer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    const onError = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** The Host header for a request written to the upstream by hand: what the pool sends for the same target. */
export function upstreamHostHeader(target: UpstreamTarget): string {
  return target.kind === 'unix' ? 'localhost' : new URL(target.origin).host;
}
