// The edge: ALLOW_FROM, TLS and mTLS with certificate reload, slow clients.
import { copyFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { createClientAllowlist, parseAllowEntry, plainAddress } from '../../src/edge/allow-from.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { makeTestCertificates, type TestCertificates } from '../support/certs.js';

let upstream: FakeUpstream | undefined;
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  await upstream?.close();
  app = undefined;
  upstream = undefined;
});

async function start(env: Env, host = '127.0.0.1'): Promise<number> {
  upstream = await startFakeUpstream();
  upstream.on('GET', '/version', json(200, { Version: '20.10.24' }));
  app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  await app.listen({ port: 0, host });
  return (app.server.address() as { port: number }).port;
}

describe('ALLOW_FROM parsing and matching', () => {
  it.each([
    ['127.0.0.1', { kind: 'address', family: 'ipv4' }],
    ['::1', { kind: 'address', family: 'ipv6' }],
    ['10.0.0.0/8', { kind: 'subnet', prefix: 8 }],
    ['fd00::/8', { kind: 'subnet', family: 'ipv6' }],
    ['homepage', { kind: 'host', name: 'homepage' }],
  ])('%s', (item, expected) => {
    expect(parseAllowEntry(item)).toMatchObject(expected);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/x', 'nope/8'])('refuses %s', (item) => {
    expect(() => parseAllowEntry(item)).toThrow(/not a CIDR/);
    expect(() => parseConfig({ PROXY_URL: 'http://x:1', ALLOW_FROM: item })).toThrow(`ALLOW_FROM: "${item}" is not a CIDR`);
  });

  it('matches addresses, subnets, IPv4-mapped IPv6, and resolved host names', async () => {
    const allowlist = createClientAllowlist(['127.0.0.2', '192.0.2.0/24', 'localhost'], pino({ level: 'silent' }));
    await allowlist.refresh();
    expect(allowlist.allows('127.0.0.2')).toBe(true);
    expect(allowlist.allows('::ffff:127.0.0.2')).toBe(true);
    expect(allowlist.allows('192.0.2.77')).toBe(true);
    expect(allowlist.allows('127.0.0.1')).toBe(true); // localhost
    expect(allowlist.allows('127.0.0.3')).toBe(false);
    expect(allowlist.allows(undefined)).toBe(false);
    expect(plainAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    allowlist.close();
  });
});

describe('ALLOW_FROM on the listener', () => {
  it('serves 127.0.0.2 and refuses 127.0.0.1 with a Docker-style 403', async () => {
    const port = await start({ ALLOW_FROM: '127.0.0.2/32' }, '0.0.0.0');
    const allowed = await request(`http://127.0.0.1:${port}/version`, {
      dispatcher: new Agent({ localAddress: '127.0.0.2' }),
    });
    expect(allowed.statusCode).toBe(200);
    await allowed.body.text();
    const refused = await request(`http://127.0.0.1:${port}/version`, {
      dispatcher: new Agent({ localAddress: '127.0.0.1' }),
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['content-type']).toBe('application/json');
    expect(await refused.body.json()).toEqual({ message: 'docker-sieve: this client is not in ALLOW_FROM' });
    expect(upstream!.requests.map((r) => r.url)).toEqual(['/version']);
  });
});

describe('TLS', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });

  const tlsAgent = (dir?: string) =>
    new Agent({
      connect: {
        ca: readFileSync(certs.ca),
        ...(dir === undefined ? {} : { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }),
      },
    });

  it('TLS_CERT and TLS_KEY serve HTTPS', async () => {
    const port = await start({ TLS_CERT: certs.serverCert, TLS_KEY: certs.serverKey });
    const response = await request(`https://127.0.0.1:${port}/version`, { dispatcher: tlsAgent() });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ Version: '20.10.24' });
  });

  it('TLS_CA requires a client certificate signed by that CA', async () => {
    const port = await start({ TLS_CERT: certs.serverCert, TLS_KEY: certs.serverKey, TLS_CA: certs.ca });
    const ok = await request(`https://127.0.0.1:${port}/version`, { dispatcher: tlsAgent(certs.clientDir) });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    await expect(request(`https://127.0.0.1:${port}/version`, { dispatcher: tlsAgent() }).then((r) => r.body.text())).rejects.toThrow();
    await expect(
      request(`https://127.0.0.1:${port}/version`, { dispatcher: tlsAgent(certs.strangerDir) }).then((r) => r.body.text()),
    ).rejects.toThrow();
    expect(upstream!.requests).toHaveLength(1);
  });

  it('reloads certificates when the files change, and on reloadTls()', async () => {
    const fresh = makeTestCertificates('renewed');
    // Serve from copies we can overwrite.
    const cert = join(certs.dir, 'live-cert.pem');
    const key = join(certs.dir, 'live-key.pem');
    copyFileSync(certs.serverCert, cert);
    copyFileSync(certs.serverKey, key);
    const port = await start({ TLS_CERT: cert, TLS_KEY: key });
    const peerName = async () => {
      const { connect } = await import('node:tls');
      return new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(String(socket.getPeerCertificate().subject.CN));
          socket.destroy();
        });
        socket.on('error', reject);
      });
    };
    expect(await peerName()).toBe('server');
    copyFileSync(fresh.serverKey, key);
    copyFileSync(fresh.serverCert, cert);
    const deadline = Date.now() + 5000;
    while ((await peerName()) !== 'renewed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await peerName()).toBe('renewed');
    copyFileSync(certs.serverKey, key);
    copyFileSync(certs.serverCert, cert);
    app!.reloadTls();
    expect(await peerName()).toBe('server');
  });
});

describe('slow clients', () => {
  it('cuts a client whose headers do not arrive in time', async () => {
    const port = await start({ CLIENT_HEADERS_TIMEOUT: '0.5' });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1', () => socket.write('GET /version HTTP/1.1\r\nHost: x\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
    });
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    expect(closedAfter).toBeLessThan(3000);
    expect(upstream!.requests).toHaveLength(0);
  });
});
