/**
 * Proves the harness itself: private dockerd -> HAProxy socket proxy -> docker CLI.
 * (docker-sieve is not involved here.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'undici';
import { docker, dockerSock, removeContainers, requireIntegration, runContainer, startSocketProxy, type SocketProxy } from './harness/index.js';

const describeIntegration = requireIntegration();

describeIntegration('harness smoke: dockerd + haproxy socket proxy + docker CLI', () => {
  let proxy: SocketProxy;
  let id: string;
  const name = `smoke-${process.pid}`;

  beforeAll(async () => {
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1' });
    id = await runContainer({
      name,
      labels: { 'com.example.smoke': 'yes' },
      env: { SMOKE: '1' },
      cmd: ['sh', '-c', 'echo hello-from-smoke; exec sleep 3600'],
    });
  });

  afterAll(async () => {
    await removeContainers([name]);
    await proxy?.stop();
  });

  it('runContainer returns the full ID and uses --network none', async () => {
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const r = await docker(['inspect', '--format', '{{.HostConfig.NetworkMode}} {{index .Config.Labels "com.example.smoke"}}', id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('none yes');
  });

  it('docker version works through the proxy (VERSION=1 by default)', async () => {
    const r = await docker(['version', '--format', '{{.Server.APIVersion}}'], { host: proxy.dockerHost });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^1\.\d+$/);
  });

  it('docker ps through the proxy shows the labelled container (CONTAINERS=1)', async () => {
    const r = await docker(['ps', '--no-trunc', '--filter', 'label=com.example.smoke=yes', '--format', '{{.ID}} {{.Names}}'], {
      host: proxy.dockerHost,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toContain(`${id} ${name}`);
  });

  it('docker logs works through the proxy (CONTAINERS=1)', async () => {
    let out = '';
    for (let i = 0; i < 50 && !out.includes('hello-from-smoke'); i++) {
      const r = await docker(['logs', name], { host: proxy.dockerHost });
      expect(r.code, r.stderr).toBe(0);
      out = r.stdout;
      if (!out.includes('hello-from-smoke')) await new Promise((res) => setTimeout(res, 100));
    }
    expect(out).toContain('hello-from-smoke');
  });

  it('docker network ls is refused with HAProxy 403 (NETWORKS=0)', async () => {
    const r = await docker(['network', 'ls'], { host: proxy.dockerHost });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/403|Forbidden/);
    // ...while the daemon itself would have answered.
    const direct = await docker(['network', 'ls', '--format', '{{.Name}}']);
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain('none');
  });

  it('write methods are refused without POST=1', async () => {
    const r = await request(`${proxy.url}/v1.41/containers/${id}/stop`, { method: 'POST' });
    expect(r.statusCode).toBe(403);
    await r.body.text();
  });

  it('the section is matched on the url-decoded path', async () => {
    const r = await request(`${proxy.url}/v1.41/%6Eetworks`, { method: 'GET' });
    expect(r.statusCode).toBe(403);
    await r.body.text();
    const ok = await request(`${proxy.url}/v1.41/%63ontainers/json`, { method: 'GET' });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
  });

  it('documents: HAProxy 2.6 answers the exec hijack with 200, not 101', async () => {
    // HAProxy does not forward `Connection: Upgrade` / `Upgrade: tcp` for
    // POST /exec/{id}/start (the request has a JSON body), so dockerd answers
    // `200` + raw stream + `connection: close` instead of `101 UPGRADED`.
    // The docker CLI 28 then fails ("unable to upgrade to tcp, received 200");
    // the 20.10 CLI does not check the status and shows the output anyway.
    // Tests of hijacked streams through docker-sieve should point it at
    // dockerSock() directly, not at this proxy.
    const rw = await startSocketProxy(dockerSock(), { CONTAINERS: '1', EXEC: '1', POST: '1' });
    try {
      const created = await request(`${rw.url}/v1.41/containers/${id}/exec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ AttachStdout: true, AttachStderr: true, Cmd: ['echo', 'hi'] }),
      });
      expect(created.statusCode).toBe(201);
      const { Id: execId } = (await created.body.json()) as { Id: string };
      const body = '{"Detach":false,"Tty":false}';
      const head = await rawExchange(
        rw.port,
        `POST /v1.41/exec/${execId}/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');

      const cliVersion = (await docker(['version', '--format', '{{.Client.Version}}'])).stdout.trim();
      const r = await docker(['exec', name, 'echo', 'hi'], { host: rw.dockerHost });
      if (r.code === 0) {
        expect(r.stdout, `docker CLI ${cliVersion}`).toBe('hi\n');
      } else {
        expect(r.stderr, `docker CLI ${cliVersion}`).toContain('unable to upgrade to tcp, received 200');
      }
      const direct = await docker(['exec', name, 'echo', 'hi']);
      expect(direct.code, direct.stderr).toBe(0);
      expect(direct.stdout).toBe('hi\n');
    } finally {
      await rw.stop();
    }
  });

  it('HEAD /_ping through the proxy returns Api-Version', async () => {
    const r = await request(`${proxy.url}/_ping`, { method: 'HEAD' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['api-version']).toMatch(/^1\.\d+$/);
    await r.body.text();
  });
});

/** Write a raw HTTP/1.1 request to 127.0.0.1:port; resolve with what came back (until close or 2 s). */
function rawExchange(port: number, req: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let out = '';
    const timer = setTimeout(() => sock.destroy(), 2000);
    sock.on('data', (b: Buffer) => (out += b.toString('latin1')));
    sock.on('connect', () => sock.write(req));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', reject);
  });
}
