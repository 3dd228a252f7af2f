// TLS on both sides, with real clients: the docker CLI with DOCKER_TLS_VERIFY, dockerode with Homepage's
// ca/cert/key, and docker-sieve reaching a dockerd that runs with --tlsverify.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import Docker from 'dockerode';
import { makeTestCertificates, type TestCertificates } from '../support/certs.js';
import {
  docker,
  dockerSock,
  dockerTls,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  startSocketProxy,
  type RunningSieve,
  type SocketProxy,
} from './harness/index.js';

const describeIntegration = requireIntegration();
const NAMES = ['tls-web', 'tls-db'];

describeIntegration('TLS and mTLS with real clients', () => {
  let certs: TestCertificates;
  let proxy: SocketProxy;
  let sieve: RunningSieve;

  beforeAll(async () => {
    await removeContainers(NAMES);
    await runContainer({ name: 'tls-web' });
    await runContainer({ name: 'tls-db' });
    certs = makeTestCertificates();
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1' });
    sieve = await startSieve({
      PROXY_URL: proxy.url,
      CONTAINER_NAMES: 'tls-web',
      TLS_CERT: certs.serverCert,
      TLS_KEY: certs.serverKey,
      TLS_CA: certs.ca,
    });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  it('the docker CLI with DOCKER_TLS_VERIFY=1 and a client certificate sees the filtered list', async () => {
    const result = await docker(['ps', '--format', '{{.Names}}'], {
      host: sieve.host,
      env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir },
    });
    expect(result.stderr).toBe('');
    const names = result.stdout.split('\n').filter((n) => n.startsWith('tls-'));
    expect(names).toEqual(['tls-web']);
  });

  it('a client without a certificate, or with one from another CA, is refused', async () => {
    const plain = await docker(['ps'], { host: sieve.host });
    expect(plain.code).not.toBe(0);
    const stranger = await docker(['ps'], { host: sieve.host, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.strangerDir } });
    expect(stranger.code).not.toBe(0);
    expect(stranger.stdout).not.toContain('tls-');
  });

  it("dockerode with ca/cert/key, as Homepage's tls block configures it", async () => {
    const read = (name: string) => readFileSync(join(certs.clientDir, name));
    const client = new Docker({
      host: '127.0.0.1',
      port: sieve.port,
      protocol: 'https',
      ca: read('ca.pem'),
      cert: read('cert.pem'),
      key: read('key.pem'),
    });
    const list = await client.listContainers({ all: true });
    expect(list.map((c) => c.Names[0]).filter((n) => n?.startsWith('/tls-'))).toEqual(['/tls-web']);
    await expect(client.getContainer('tls-db').inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('reaches a dockerd exposed with --tlsverify over https with PROXY_CA/PROXY_CERT/PROXY_KEY', async () => {
    const { url, certDir } = dockerTls();
    const remote = await startSieve({
      PROXY_URL: url,
      PROXY_CA: join(certDir, 'ca.pem'),
      PROXY_CERT: join(certDir, 'cert.pem'),
      PROXY_KEY: join(certDir, 'key.pem'),
      CONTAINER_NAMES: 'tls-web',
    });
    try {
      const result = await docker(['ps', '--format', '{{.Names}}'], { host: remote.host });
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n').filter((n) => n.startsWith('tls-'))).toEqual(['tls-web']);
      const inspect = await docker(['inspect', '--format', '{{.Name}}', 'tls-web'], { host: remote.host });
      expect(inspect.stdout.trim()).toBe('/tls-web');
    } finally {
      await remote.app.close();
    }
    // Without the client certificate, dockerd refuses the handshake: a 502, nothing else.
    const unauthenticated = await startSieve({ PROXY_URL: url, PROXY_CA: join(certDir, 'ca.pem'), CONTAINER_NAMES: 'tls-web' });
    try {
      const response = await fetch(`${unauthenticated.url}/containers/json`);
      expect(response.status).toBe(502);
      expect(((await response.json()) as { message: string }).message).toMatch(/^docker-sieve: /);
    } finally {
      await unauthenticated.app.close();
    }
  });
});
