// No request shape reaches a hidden container's data: encodings, slashes, dot segments, case, query and
// fragment tricks, every container sub-route, HTTP/1.0, absolute-form targets and odd methods, each sent as raw
// bytes through docker-sieve → HAProxy → dockerd. Every answer is checked on its status and its bytes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from 'node:net';
import {
  dockerOk,
  dockerSock,
  engineRequest,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  startSocketProxy,
  type RunningSieve,
  type SocketProxy,
} from './harness/index.js';

const describeIntegration = requireIntegration();
const NAMES = ['bp-web', 'bp-web-linker', 'bp-secret'];
// Markers only the hidden container carries: its env, its logs, its label value.
const SECRET_ENV = 'bp-hunter2-xyz';
const SECRET_LOG = 'bp-log-secret';
const SECRET_LABEL = 'classified-label-value';

interface RawResponse {
  status: number;
  raw: string;
}

/** Sends exact bytes and reads the whole answer (the request asks the server to close). */
function sendRaw(port: number, bytes: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ status, raw });
    });
  });
}

function request(method: string, target: string, options: { version?: string; body?: string; headers?: string[] } = {}): string {
  const body = options.body ?? '';
  const headers = [
    'Host: docker',
    'Connection: close',
    ...(body === '' ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]),
    ...(options.headers ?? []),
  ];
  return `${method} ${target} HTTP/${options.version ?? '1.1'}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

type Expect = 'denied' | 'ok-without-secret';

describeIntegration('no request shape reaches a hidden container', () => {
  let proxy: SocketProxy;
  let sieve: RunningSieve;
  let id = '';
  let execId = '';
  const since = Math.floor(Date.now() / 1000) - 1;

  beforeAll(async () => {
    await removeContainers(NAMES);
    await runContainer({ name: 'bp-web', cmd: ['sh', '-c', 'echo visible log; exec sleep 3600'] });
    id = await runContainer({
      name: 'bp-secret',
      labels: { tier: SECRET_LABEL },
      env: { TOKEN: SECRET_ENV },
      cmd: ['sh', '-c', `echo ${SECRET_LOG}; exec sleep 3600`],
    });
    await runContainer({ name: 'bp-web-linker', extraArgs: ['--link', 'bp-secret:alias'] });
    const exec = await engineRequest(dockerSock(), 'POST', `/containers/${id}/exec`, { Cmd: ['cat', '/proc/1/environ'], AttachStdout: true });
    execId = (JSON.parse(exec.body) as { Id: string }).Id;
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', POST: '1', DELETE: '1', EVENTS: '1', SYSTEM: '1', NETWORKS: '1', EXEC: '1', COMMIT: '1' });
    sieve = await startSieve({ PROXY_URL: proxy.url, CONTAINER_NAMES: 'bp-web' });
  });

  afterAll(async () => {
    await sieve?.app.close();
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  const prefix = () => id.slice(0, 12);
  const ref = { name: () => 'bp-secret', id: () => id, prefix };
  const now = () => Math.floor(Date.now() / 1000) + 1;

  const shapes: Array<[string, () => string, Expect]> = [];
  for (const [how, r] of Object.entries(ref)) {
    for (const action of ['json', 'logs?stdout=1&stderr=1', 'top', 'archive?path=/etc/hostname', 'changes', 'stats?stream=false', 'export']) {
      shapes.push([`GET ${action} by ${how}`, () => request('GET', `/containers/${r()}/${action}`), 'denied']);
    }
    shapes.push([`GET /v1.41 inspect by ${how}`, () => request('GET', `/v1.41/containers/${r()}/json`), 'denied']);
  }
  shapes.push(
    ['percent-encoded name', () => request('GET', '/containers/%62p-secret/json'), 'denied'],
    ['percent-encoded dash', () => request('GET', '/containers/bp%2Dsecret/json'), 'denied'],
    ['encoded slash before the action', () => request('GET', '/containers/bp-secret%2Fjson'), 'denied'],
    ['encoded slash, lower case, logs', () => request('GET', '/v1.41/containers/bp-secret%2flogs?stdout=1'), 'denied'],
    ['double-encoded slash', () => request('GET', '/containers/bp-secret%252Fjson'), 'denied'],
    ['encoded NUL', () => request('GET', '/containers/bp-secret%00/json'), 'denied'],
    ['duplicate slash inside', () => request('GET', '/containers//bp-secret/json'), 'denied'],
    ['duplicate slash in front', () => request('GET', '//containers/bp-secret/json'), 'denied'],
    ['dot segment', () => request('GET', '/containers/./bp-secret/json'), 'denied'],
    ['dot-dot segment', () => request('GET', '/containers/x/../bp-secret/json'), 'denied'],
    ['dot-dot over the version', () => request('GET', '/v1.41/../containers/bp-secret/json'), 'denied'],
    ['dot-dot from a visible container', () => request('GET', '/containers/bp-web/../bp-secret/json'), 'denied'],
    ['trailing slash', () => request('GET', '/containers/bp-secret/json/'), 'denied'],
    ['dot before the action', () => request('GET', '/containers/bp-secret/./json'), 'denied'],
    ['upper-case family', () => request('GET', '/CONTAINERS/bp-secret/json'), 'denied'],
    ['capitalised family', () => request('GET', '/Containers/bp-secret/json'), 'denied'],
    ['upper-case version', () => request('GET', '/V1.41/containers/bp-secret/json'), 'denied'],
    ['three-part version', () => request('GET', '/v1.41.0/containers/bp-secret/json'), 'denied'],
    ['zero-padded version', () => request('GET', '/v01.041/containers/bp-secret/json'), 'denied'],
    ['old API version (text errors)', () => request('GET', '/v1.23/containers/bp-secret/json'), 'denied'],
    ['query naming a visible container', () => request('GET', '/containers/bp-secret/json?name=bp-web&id=bp-web'), 'denied'],
    ['fragment after the action', () => request('GET', '/containers/bp-secret/json#x'), 'denied'],
    ['legacy link alias of a visible container', () => request('GET', '/containers/bp-web-linker/alias/json'), 'denied'],
    ['legacy link alias, logs', () => request('GET', '/containers/bp-web-linker/alias/logs?stdout=1'), 'denied'],
    ['legacy link alias, encoded slash', () => request('GET', '/containers/bp-web-linker%2Falias/json'), 'denied'],
    ['upper-case full ID', () => request('GET', `/containers/${id.toUpperCase()}/json`), 'denied'],
    ['attach/ws without upgrade', () => request('GET', '/containers/bp-secret/attach/ws?stream=1&stdout=1'), 'denied'],
    ['HEAD archive', () => request('HEAD', '/containers/bp-secret/archive?path=/etc/hostname'), 'denied'],
    ['HTTP/1.0', () => request('GET', '/containers/bp-secret/json', { version: '1.0' }), 'denied'],
    ['HTTP/1.0 logs', () => request('GET', '/containers/bp-secret/logs?stdout=1', { version: '1.0' }), 'denied'],
    ['absolute-form target', () => request('GET', 'http://docker/containers/bp-secret/json'), 'denied'],
    ['absolute-form target, versioned logs', () => request('GET', 'http://docker:2375/v1.41/containers/bp-secret/logs?stdout=1'), 'denied'],
    ['absolute-form target naming the visible host', () => request('GET', 'http://bp-web/containers/bp-secret/json'), 'denied'],
    ['OPTIONS', () => request('OPTIONS', '/containers/bp-secret/json'), 'denied'],
    ['PATCH', () => request('PATCH', '/containers/bp-secret/json'), 'denied'],
    ['POST on inspect', () => request('POST', '/containers/bp-secret/json'), 'denied'],
    ['PUT archive', () => request('PUT', '/containers/bp-secret/archive?path=/', { body: '{}' }), 'denied'],
    ['exec create', () => request('POST', '/containers/bp-secret/exec', { body: '{"Cmd":["cat","/proc/1/environ"],"AttachStdout":true}' }), 'denied'],
    ['exec inspect of an exec made on the daemon', () => request('GET', `/exec/${execId}/json`), 'denied'],
    ['exec start of an exec made on the daemon', () => request('POST', `/exec/${execId}/start`, { body: '{"Detach":false,"Tty":false}' }), 'denied'],
    ['rename', () => request('POST', '/containers/bp-secret/rename?name=bp-web-2'), 'denied'],
    ['kill', () => request('POST', '/containers/bp-secret/kill'), 'denied'],
    ['delete', () => request('DELETE', '/containers/bp-secret?force=1'), 'denied'],
    ['commit', () => request('POST', '/commit?container=bp-secret&repo=leak'), 'denied'],
    ['create linking it', () => request('POST', '/containers/create?name=bp-web-leak', { body: '{"Image":"local/busybox:1","HostConfig":{"Links":["bp-secret:x"]}}' }), 'denied'],
    ['create sharing its PID namespace', () => request('POST', '/containers/create?name=bp-web-leak', { body: '{"Image":"local/busybox:1","HostConfig":{"PidMode":"container:bp-secret"}}' }), 'denied'],
    ['create with volumes-from, lower-case keys', () => request('POST', '/containers/create?name=bp-web-leak', { body: '{"image":"local/busybox:1","hostconfig":{"volumesfrom":["bp-secret"]}}' }), 'denied'],
    ['container prune', () => request('POST', '/containers/prune'), 'denied'],
    ['list', () => request('GET', '/containers/json?all=1'), 'ok-without-secret'],
    ['list filtered on its name', () => request('GET', `/containers/json?filters=${encodeURIComponent('{"name":["bp-secret"]}')}`), 'ok-without-secret'],
    ['list with limit', () => request('GET', '/containers/json?limit=100'), 'ok-without-secret'],
    ['list, absolute-form, upper-case version', () => request('GET', 'http://docker/V1.41/containers/json?all=1'), 'ok-without-secret'],
    ['list, HTTP/1.0', () => request('GET', '/containers/json?all=1', { version: '1.0' }), 'ok-without-secret'],
    ['events', () => request('GET', `/events?since=${since}&until=${now()}`), 'ok-without-secret'],
    ['events filtered on it', () => request('GET', `/events?since=${since}&until=${now()}&filters=${encodeURIComponent('{"container":["bp-secret"]}')}`), 'ok-without-secret'],
    ['visible container inspect (its link names the hidden one only by alias)', () => request('GET', '/containers/bp-web/json'), 'ok-without-secret'],
    ['system df', () => request('GET', '/system/df'), 'ok-without-secret'],
    ['the none network, where it is attached', () => request('GET', '/networks/none'), 'ok-without-secret'],
    ['the none network, versioned, verbose', () => request('GET', '/v1.41/networks/none?verbose=true'), 'ok-without-secret'],
    ['the network list, API 1.27 (Containers maps)', () => request('GET', '/v1.27/networks'), 'ok-without-secret'],
  );

  it('has at least 60 shapes', () => {
    expect(shapes.length).toBeGreaterThanOrEqual(60);
  });

  it.each(shapes)('%s', async (_title, build, expectation) => {
    const bytes = build();
    const response = await sendRaw(sieve.port, bytes);
    expect(response.status).toBeGreaterThan(0);
    for (const marker of [SECRET_ENV, SECRET_LOG, SECRET_LABEL]) expect(response.raw).not.toContain(marker);
    // The client may see its own ref echoed; never the ID it did not send.
    if (!bytes.includes(id) && !bytes.toLowerCase().includes(id)) expect(response.raw).not.toContain(id);
    if (!bytes.includes(prefix())) expect(response.raw).not.toContain(prefix());
    // The name likewise, unless the client wrote it (perhaps percent-encoded).
    let decoded = bytes;
    try {
      decoded = decodeURIComponent(bytes);
    } catch {
      // keep the bytes as they are
    }
    if (!decoded.includes('bp-secret')) expect(response.raw).not.toContain('bp-secret');
    if (expectation === 'denied') expect(response.status).toBeGreaterThanOrEqual(400);
    else expect(response.status).toBe(200);
  });

  it('left the hidden container untouched', async () => {
    expect((await dockerOk(['inspect', '--format', '{{.Name}} {{.State.Running}}', id])).trim()).toBe('/bp-secret true');
    expect(await dockerOk(['ps', '-a', '--filter', 'name=bp-web-leak', '--format', '{{.Names}}'])).toBe('');
  });
});
