import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, withDotenv, type Env } from '../../src/config.js';

const base = { PROXY_URL: 'http://socket-proxy:2375' };

describe('parseConfig: defaults', () => {
  it('fills in documented defaults', () => {
    const config = parseConfig(base);
    expect(config).toMatchObject({
      upstream: { kind: 'tcp', origin: 'http://socket-proxy:2375', pathPrefix: '', tls: false },
      containerNames: [],
      containerLabels: [],
      scrubEnvs: false,
      port: 2375,
      listenAddress: undefined,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('parseConfig: hardening options', () => {
  it('has defaults that never cut a long stream, and reads seconds', () => {
    const config = parseConfig(base);
    expect(config.timeouts).toEqual({ upstreamConnectMs: 5000, upstreamHeadersMs: 300000, lookupMs: 10000, clientHeadersMs: 10000, clientIdleMs: 60000, shutdownGraceMs: 10000 });
    expect(config).toMatchObject({ tls: undefined, allowFrom: [], metricsPort: undefined, cacheTtlMs: 30000 });
    expect(parseConfig({ ...base, LOOKUP_TIMEOUT: '2.5', CACHE_TTL: '0' })).toMatchObject({ timeouts: { lookupMs: 2500 }, cacheTtlMs: 0 });
  });

  it('reads TLS files, the upstream TLS files and ALLOW_FROM', () => {
    const config = parseConfig({
      PROXY_URL: 'https://remote:2376',
      PROXY_CA: '/p/ca.pem',
      PROXY_CERT: '/p/cert.pem',
      PROXY_KEY: '/p/key.pem',
      TLS_CERT: '/t/cert.pem',
      TLS_KEY: '/t/key.pem',
      TLS_CA: '/t/ca.pem',
      ALLOW_FROM: '127.0.0.1, 10.0.0.0/8, homepage',
      METRICS_PORT: '9100',
    });
    expect(config).toMatchObject({
      upstreamTls: { ca: '/p/ca.pem', cert: '/p/cert.pem', key: '/p/key.pem' },
      tls: { cert: '/t/cert.pem', key: '/t/key.pem', ca: '/t/ca.pem' },
      allowFrom: ['127.0.0.1', '10.0.0.0/8', 'homepage'],
      metricsPort: 9100,
    });
  });
});

describe('parseConfig: PROXY_URL', () => {
  it.each([
    ['http://socket-proxy:2375', { kind: 'tcp', origin: 'http://socket-proxy:2375', pathPrefix: '' }],
    ['http://socket-proxy:2375/', { kind: 'tcp', origin: 'http://socket-proxy:2375', pathPrefix: '' }],
    ['https://remote:2376/docker/', { kind: 'tcp', origin: 'https://remote:2376', pathPrefix: '/docker', tls: true }],
    ['unix:///var/run/docker.sock', { kind: 'unix', socketPath: '/var/run/docker.sock' }],
  ])('%s', (url, upstream) => {
    expect(parseConfig({ PROXY_URL: url }).upstream).toMatchObject(upstream);
  });
});

describe('parseConfig: errors name the variable', () => {
  it.each<[Env, string]>([
    [{}, 'PROXY_URL: is required (for example http://socket-proxy:2375 or unix:///var/run/docker.sock)'],
    [{ PROXY_URL: '  ' }, 'PROXY_URL: is required (for example http://socket-proxy:2375 or unix:///var/run/docker.sock)'],
    [{ PROXY_URL: 'socket-proxy:2375' }, 'PROXY_URL: unsupported scheme "socket-proxy:" (use http, https or unix)'],
    [{ PROXY_URL: 'not a url' }, 'PROXY_URL: "not a url" is not a URL'],
    [{ PROXY_URL: 'ftp://x' }, 'PROXY_URL: unsupported scheme "ftp:" (use http, https or unix)'],
    [{ PROXY_URL: 'unix://' }, 'PROXY_URL: "unix://" must look like unix:///path/to/docker.sock'],
    [{ PROXY_URL: 'http://x:2375/?a=1' }, 'PROXY_URL: "http://x:2375/?a=1" must not have a query or fragment'],
    [{ ...base, PORT: '0' }, 'PORT: 0 is out of range (1-65535)'],
    [{ ...base, PORT: '65536' }, 'PORT: 65536 is out of range (1-65535)'],
    [{ ...base, PORT: 'http' }, 'PORT: "http" is not a port number'],
    [{ ...base, SCRUB_ENVS: 'maybe' }, 'SCRUB_ENVS: "maybe" is not a boolean (use true/false, 1/0 or yes/no)'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
    [{ ...base, TLS_CERT: '/c.pem' }, 'TLS_KEY: is required when TLS_CERT is set'],
    [{ ...base, TLS_KEY: '/k.pem' }, 'TLS_CERT: is required when TLS_KEY is set'],
    [{ ...base, TLS_CA: '/ca.pem' }, 'TLS_CA: needs TLS_CERT and TLS_KEY as well'],
    [{ ...base, PROXY_CA: '/ca.pem' }, 'PROXY_CA: PROXY_CA, PROXY_CERT and PROXY_KEY need an https:// PROXY_URL'],
    [{ PROXY_URL: 'https://x:2376', PROXY_CERT: '/c.pem' }, 'PROXY_KEY: PROXY_CERT and PROXY_KEY go together'],
    [{ ...base, METRICS_PORT: '99999' }, 'METRICS_PORT: 99999 is out of range (1-65535)'],
    [{ ...base, LOOKUP_TIMEOUT: '5s' }, 'LOOKUP_TIMEOUT: "5s" is not a number of seconds'],
    [{ ...base, ALLOW_FROM: '10.0.0.0/40' }, 'ALLOW_FROM: "10.0.0.0/40" is not a CIDR'],
  ])('%j', (env, message) => {
    let caught: unknown;
    try {
      parseConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(message);
  });
});

describe('parseConfig: SCRUB_ENVS booleans in any case', () => {
  it.each([
    ['true', true], ['TRUE', true], ['1', true], ['yes', true], ['Yes', true],
    ['false', false], ['False', false], ['0', false], ['no', false], ['NO', false], ['', false],
  ])('%s → %s', (raw, value) => {
    expect(parseConfig({ ...base, SCRUB_ENVS: raw }).scrubEnvs).toBe(value);
  });
});

describe('parseConfig: lists', () => {
  it('trims, drops empty items and keeps duplicate label keys', () => {
    const config = parseConfig({ ...base, CONTAINER_NAMES: ' web , ,db,', CONTAINER_LABELS: 'a=1, a=2 ,b,' });
    expect(config.containerNames).toEqual(['web', 'db']);
    expect(config.containerLabels).toEqual([
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
      { key: 'b', value: undefined },
    ]);
  });

  it('splits a label rule at its first "="', () => {
    expect(parseConfig({ ...base, CONTAINER_LABELS: 'traefik.http.routers.x.rule=Host(`a=b`)' }).containerLabels).toEqual([
      { key: 'traefik.http.routers.x.rule', value: 'Host(`a=b`)' },
    ]);
  });
});

describe('withDotenv', () => {
  it('reads .env from the directory, and the real environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-env-'));
    writeFileSync(join(dir, '.env'), 'PROXY_URL=http://from-file:2375\nCONTAINER_NAMES=file\nPORT=1234\n');
    const env = withDotenv({ CONTAINER_NAMES: 'real' }, dir);
    expect(env).toMatchObject({ PROXY_URL: 'http://from-file:2375', CONTAINER_NAMES: 'real', PORT: '1234' });
  });

  it('is a no-op without a .env file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-env-'));
    expect(withDotenv({ A: '1' }, dir)).toEqual({ A: '1' });
  });
});
