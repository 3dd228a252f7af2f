// The one client to PROXY_URL, shared by the pass-through proxy, the resolver and the filters.
import { Pool, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { UpstreamTarget } from './config.js';

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
  readonly signal?: AbortSignal;
  /** Time to the response headers; 0 for none. */
  readonly headersTimeoutMs?: number;
}

export interface Upstream {
  /** Origin for reply-from's `base`. */
  readonly base: string;
  readonly pathPrefix: string;
  readonly dispatcher: Dispatcher;
  request(request: UpstreamRequest): Promise<Dispatcher.ResponseData>;
  /** Remembers the daemon's identity headers from an answer. */
  observe(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): void;
  daemonHeaders(): Record<string, string>;
  close(): Promise<void>;
}

export function createUpstream(target: UpstreamTarget): Upstream {
  // No body or header timeout at this level: events, logs -f and attach stay open for as long as they like.
  // Lookups pass their own timeout.
  const options = { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 };
  const base = target.kind === 'unix' ? 'http://localhost' : target.origin;
  const pathPrefix = target.kind === 'unix' ? '' : target.pathPrefix;
  const dispatcher =
    target.kind === 'unix' ? new Pool(base, { ...options, socketPath: target.socketPath }) : new Pool(base, options);
  const remembered: Record<string, string> = {};

  const upstream: Upstream = {
    base,
    pathPrefix,
    dispatcher,
    async request({ method, path, headers, signal, headersTimeoutMs }) {
      const response = await dispatcher.request({
        method: method as Dispatcher.HttpMethod,
        path: pathPrefix + path,
        headers: headers ?? {},
        signal,
        headersTimeout: headersTimeoutMs ?? 0,
        bodyTimeout: 0,
      });
      upstream.observe(response.headers);
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
      await dispatcher.close();
    },
  };
  return upstream;
}
