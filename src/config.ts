// Configuration: env vars (docker-proxy-filter compatible) and an optional `.env` file → one frozen Config.
// Every error names the variable, so a bad deployment fails with one readable line.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';

export interface LabelRule {
  readonly key: string;
  /** undefined: the key alone decides. */
  readonly value: string | undefined;
}

export type UpstreamTarget =
  | { readonly kind: 'tcp'; readonly origin: string; readonly pathPrefix: string; readonly tls: boolean }
  | { readonly kind: 'unix'; readonly socketPath: string };

export interface Config {
  readonly proxyUrl: string;
  readonly upstream: UpstreamTarget;
  readonly containerNames: readonly string[];
  readonly containerLabels: readonly LabelRule[];
  readonly scrubEnvs: boolean;
  readonly port: number;
  /** undefined: every interface, IPv4 and IPv6. */
  readonly listenAddress: string | undefined;
  readonly logLevel: string;
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

export function parseConfig(env: Env): Config {
  const upstream = parseProxyUrl(env.PROXY_URL);
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `"${env.LOG_LEVEL}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const listenAddress = env.LISTEN_ADDRESS?.trim() || undefined;
  return Object.freeze({
    proxyUrl: env.PROXY_URL!.trim(),
    upstream: Object.freeze(upstream),
    containerNames: Object.freeze(parseList(env.CONTAINER_NAMES)),
    containerLabels: Object.freeze(parseLabelRules(env.CONTAINER_LABELS).map((rule) => Object.freeze(rule))),
    scrubEnvs: parseBoolean('SCRUB_ENVS', env.SCRUB_ENVS, false),
    port: parsePort('PORT', env.PORT, 2375),
    listenAddress,
    logLevel,
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
