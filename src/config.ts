// Configuration: env vars (docker-proxy-filter compatible) and an optional `.env` file → one frozen Config.
// Every error names the variable, so a bad deployment fails with one readable line.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { parseAllowEntry } from './edge/allow-from.js';

export interface LabelRule {
  readonly key: string;
  /** undefined: the key alone decides. */
  readonly value: string | undefined;
}

export type UpstreamTarget =
  | { readonly kind: 'tcp'; readonly origin: string; readonly pathPrefix: string; readonly tls: boolean }
  | { readonly kind: 'unix'; readonly socketPath: string };

/** Paths of PEM files. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** Set: client certificates are required and verified against it (mTLS, like dockerd --tlsverify). */
  readonly ca: string | undefined;
}

export interface UpstreamTls {
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
}

export interface Timeouts {
  /** Connecting to the upstream. */
  readonly upstreamConnectMs: number;
  /** The upstream's answer headers (bodies, which are streams, are never timed); 0 for none. */
  readonly upstreamHeadersMs: number;
  /** A gate's lookup (inspect) upstream, headers and body. */
  readonly lookupMs: number;
  /** A client's request headers must arrive within this (slowloris). */
  readonly clientHeadersMs: number;
  /** An idle keep-alive connection between two requests. Never applies to a response in progress. */
  readonly clientIdleMs: number;
  /** On SIGTERM, how long in-flight requests may finish before connections are cut. */
  readonly shutdownGraceMs: number;
}

export interface Config {
  readonly proxyUrl: string;
  readonly upstream: UpstreamTarget;
  readonly upstreamTls: UpstreamTls;
  readonly containerNames: readonly string[];
  readonly containerLabels: readonly LabelRule[];
  readonly scrubEnvs: boolean;
  readonly port: number;
  /** undefined: every interface, IPv4 and IPv6. */
  readonly listenAddress: string | undefined;
  readonly logLevel: string;
  /** undefined: plain HTTP. */
  readonly tls: TlsFiles | undefined;
  /** CIDRs and host names allowed to connect; empty: everyone. */
  readonly allowFrom: readonly string[];
  /** undefined: no metrics listener. */
  readonly metricsPort: number | undefined;
  /** How long a resolved container (or a name mapping while events are watched) is cached. */
  readonly cacheTtlMs: number;
  readonly timeouts: Timeouts;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A comma list, trimmed, with empty items dropped so that `foo,` never matches everything. */
export function parseList(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function parseLabelRules(raw: string | undefined): LabelRule[] {
  return parseList(raw).map((item) => {
    const eq = item.indexOf('=');
    if (eq === -1) return { key: item, value: undefined };
    return { key: item.slice(0, eq).trim(), value: item.slice(eq + 1).trim() };
  });
}

export function parseBoolean(variable: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new ConfigError(variable, `"${raw}" is not a boolean (use true/false, 1/0 or yes/no)`);
}

export function parsePort(variable: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim();
  if (!/^[0-9]+$/.test(value)) throw new ConfigError(variable, `"${raw}" is not a port number`);
  const port = Number(value);
  if (port < 1 || port > 65535) throw new ConfigError(variable, `${port} is out of range (1-65535)`);
  return port;
}

export function parseProxyUrl(raw: string | undefined): UpstreamTarget {
  if (raw === undefined || raw.trim() === '') {
    throw new ConfigError('PROXY_URL', 'is required (for example http://socket-proxy:2375 or unix:///var/run/docker.sock)');
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError('PROXY_URL', `"${raw}" is not a URL`);
  }
  if (url.protocol === 'unix:') {
    // unix:///path/docker.sock: the path is the socket, so it cannot also be a prefix.
    const socketPath = decodeURIComponent(url.pathname);
    if (url.host !== '' || socketPath === '' || socketPath === '/') {
      throw new ConfigError('PROXY_URL', `"${raw}" must look like unix:///path/to/docker.sock`);
    }
    return { kind: 'unix', socketPath };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PROXY_URL', `unsupported scheme "${url.protocol}" (use http, https or unix)`);
  }
  if (url.hostname === '') throw new ConfigError('PROXY_URL', `"${raw}" has no host`);
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigError('PROXY_URL', `"${raw}" must not have a query or fragment`);
  }
  // Keep a path prefix (a socket proxy mounted under /docker, say) without its trailing slash.
  const pathPrefix = url.pathname.replace(/\/+$/, '');
  return { kind: 'tcp', origin: url.origin, pathPrefix, tls: url.protocol === 'https:' };
}

/** Seconds, as a decimal number, into milliseconds. */
export function parseSeconds(variable: string, raw: string | undefined, fallbackSeconds: number): number {
  if (raw === undefined || raw.trim() === '') return fallbackSeconds * 1000;
  const value = raw.trim();
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) throw new ConfigError(variable, `"${raw}" is not a number of seconds`);
  return Math.round(Number(value) * 1000);
}

function parseAllowFrom(raw: string | undefined): string[] {
  const items = parseList(raw);
  for (const item of items) {
    try {
      parseAllowEntry(item);
    } catch (error) {
      throw new ConfigError('ALLOW_FROM', (error as Error).message);
    }
  }
  return items;
}

function optionalPath(env: Env, variable: string): string | undefined {
  const value = env[variable]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function parseTls(env: Env): TlsFiles | undefined {
  const cert = optionalPath(env, 'TLS_CERT');
  const key = optionalPath(env, 'TLS_KEY');
  const ca = optionalPath(env, 'TLS_CA');
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new ConfigError('TLS_CA', 'needs TLS_CERT and TLS_KEY as well');
    return undefined;
  }
  if (cert === undefined) throw new ConfigError('TLS_CERT', 'is required when TLS_KEY is set');
  if (key === undefined) throw new ConfigError('TLS_KEY', 'is required when TLS_CERT is set');
  return { cert, key, ca };
}

export function parseConfig(env: Env): Config {
  const upstream = parseProxyUrl(env.PROXY_URL);
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `"${env.LOG_LEVEL}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const listenAddress = env.LISTEN_ADDRESS?.trim() || undefined;
  const upstreamTls = { ca: optionalPath(env, 'PROXY_CA'), cert: optionalPath(env, 'PROXY_CERT'), key: optionalPath(env, 'PROXY_KEY') };
  if ((upstreamTls.ca ?? upstreamTls.cert ?? upstreamTls.key) !== undefined && !(upstream.kind === 'tcp' && upstream.tls)) {
    throw new ConfigError('PROXY_CA', 'PROXY_CA, PROXY_CERT and PROXY_KEY need an https:// PROXY_URL');
  }
  if ((upstreamTls.cert === undefined) !== (upstreamTls.key === undefined)) {
    throw new ConfigError(upstreamTls.cert === undefined ? 'PROXY_CERT' : 'PROXY_KEY', 'PROXY_CERT and PROXY_KEY go together');
  }
  const metricsPort = env.METRICS_PORT?.trim() ? parsePort('METRICS_PORT', env.METRICS_PORT, 0) : undefined;
  return Object.freeze({
    proxyUrl: env.PROXY_URL!.trim(),
    upstream: Object.freeze(upstream),
    containerNames: Object.freeze(parseList(env.CONTAINER_NAMES)),
    containerLabels: Object.freeze(parseLabelRules(env.CONTAINER_LABELS).map((rule) => Object.freeze(rule))),
    scrubEnvs: parseBoolean('SCRUB_ENVS', env.SCRUB_ENVS, false),
    port: parsePort('PORT', env.PORT, 2375),
    listenAddress,
    logLevel,
    upstreamTls: Object.freeze(upstreamTls),
    tls: parseTls(env),
    allowFrom: Object.freeze(parseAllowFrom(env.ALLOW_FROM)),
    metricsPort,
    cacheTtlMs: parseSeconds('CACHE_TTL', env.CACHE_TTL, 30),
    timeouts: Object.freeze({
      upstreamConnectMs: parseSeconds('UPSTREAM_CONNECT_TIMEOUT', env.UPSTREAM_CONNECT_TIMEOUT, 5),
      upstreamHeadersMs: parseSeconds('UPSTREAM_HEADERS_TIMEOUT', env.UPSTREAM_HEADERS_TIMEOUT, 300),
      lookupMs: parseSeconds('LOOKUP_TIMEOUT', env.LOOKUP_TIMEOUT, 10),
      clientHeadersMs: parseSeconds('CLIENT_HEADERS_TIMEOUT', env.CLIENT_HEADERS_TIMEOUT, 10),
      clientIdleMs: parseSeconds('CLIENT_IDLE_TIMEOUT', env.CLIENT_IDLE_TIMEOUT, 60),
      shutdownGraceMs: parseSeconds('SHUTDOWN_GRACE', env.SHUTDOWN_GRACE, 10),
    }),
  });
}

/** Reads `.env` from `dir` if it exists; variables already in `env` win. */
export function withDotenv(env: Env, dir: string = process.cwd()): Env {
  let text: string;
  try {
    text = readFileSync(resolve(dir, '.env'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return env;
    throw new ConfigError('.env', `cannot be read: ${(error as Error).message}`);
  }
  const fromFile = parseDotenv(text);
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value;
  return merged;
}

/** Every setting, as an environment variable and as a command-line flag (a flag wins over the environment). */
export const SETTINGS: ReadonlyArray<{ readonly variable: string; readonly flag: string; readonly help: string }> = [
  { variable: 'CONFIG_FILE', flag: 'config', help: 'a YAML file of listeners, clients and profiles (one docker-sieve, many clients)' },
  { variable: 'PROXY_URL', flag: 'proxy-url', help: 'the socket proxy: http://host:port, https://host:port or unix:///path (required)' },
  { variable: 'CONTAINER_NAMES', flag: 'container-names', help: 'comma list; visible if the name contains any value' },
  { variable: 'CONTAINER_LABELS', flag: 'container-labels', help: 'comma list of key or key=value; visible if a label matches' },
  { variable: 'SCRUB_ENVS', flag: 'scrub-envs', help: 'true/false: blank Config.Env in container inspect (default false)' },
  { variable: 'PORT', flag: 'port', help: 'port to listen on (default 2375)' },
  { variable: 'LISTEN_ADDRESS', flag: 'listen-address', help: 'address to listen on (default: every interface)' },
  { variable: 'LOG_LEVEL', flag: 'log-level', help: 'fatal, error, warn, info, debug, trace or silent (default info)' },
  { variable: 'TLS_CERT', flag: 'tls-cert', help: 'PEM certificate: serve HTTPS' },
  { variable: 'TLS_KEY', flag: 'tls-key', help: 'PEM private key for TLS_CERT' },
  { variable: 'TLS_CA', flag: 'tls-ca', help: 'PEM CA: require client certificates it signed (mTLS)' },
  { variable: 'ALLOW_FROM', flag: 'allow-from', help: 'comma list of CIDRs and host names allowed to connect' },
  { variable: 'PROXY_CA', flag: 'proxy-ca', help: 'PEM CA for an https PROXY_URL' },
  { variable: 'PROXY_CERT', flag: 'proxy-cert', help: 'PEM client certificate for an https PROXY_URL' },
  { variable: 'PROXY_KEY', flag: 'proxy-key', help: 'PEM client key for an https PROXY_URL' },
  { variable: 'METRICS_PORT', flag: 'metrics-port', help: 'serve /metrics and /healthz on this port (default: off)' },
  { variable: 'CACHE_TTL', flag: 'cache-ttl', help: 'seconds a resolved container is cached (default 30)' },
  { variable: 'UPSTREAM_CONNECT_TIMEOUT', flag: 'upstream-connect-timeout', help: 'seconds to connect upstream (default 5)' },
  { variable: 'UPSTREAM_HEADERS_TIMEOUT', flag: 'upstream-headers-timeout', help: "seconds to the upstream's answer headers, 0 for none; streams are never cut (default 300)" },
  { variable: 'LOOKUP_TIMEOUT', flag: 'lookup-timeout', help: 'seconds for a container lookup (default 10)' },
  { variable: 'CLIENT_HEADERS_TIMEOUT', flag: 'client-headers-timeout', help: "seconds for a client's request headers (default 10)" },
  { variable: 'CLIENT_IDLE_TIMEOUT', flag: 'client-idle-timeout', help: 'seconds an idle keep-alive connection is kept (default 60)' },
  { variable: 'SHUTDOWN_GRACE', flag: 'shutdown-grace', help: 'seconds in-flight requests get on SIGTERM (default 10)' },
];
