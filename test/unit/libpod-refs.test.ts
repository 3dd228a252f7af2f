// Podman's native API: containers named in create bodies (SpecGenerator), network connect/disconnect bodies and
// the commit query, judged as Podman 4.3.1 decodes them (Go's encoding/json, gorilla/schema).
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { classifyTarget } from '../../src/docker/target.js';
import {
  containerRefsRoute,
  goFold,
  libpodCommitQuery,
  libpodCommitRefs,
  libpodRefsInConnectBody,
  libpodRefsInCreateBody,
  MAX_JUDGED_BODY,
  UnjudgedBodyError,
} from '../../src/filters/container-refs.js';
import { json, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
/** The body the podman 4.3.1 CLI sent for `create --network/--pid/--ipc container:web-a --volumes-from web-a --requires web-a`. */
const CLIENT_CREATE_BODY = fixture('libpod-client-create-body.json').trim();

const ns = (ref: string): string => `{"nsmode":"container","value":"${ref}"}`;

describe('libpodRefsInCreateBody', () => {
  it('reads every ref of the recorded podman CLI body, once', () => {
    expect(libpodRefsInCreateBody(CLIENT_CREATE_BODY)).toEqual({ containers: ['web-a'], pod: '' });
    expect(libpodRefsInCreateBody(CLIENT_CREATE_BODY.replaceAll('"web-a"', '"db-hidden"')).containers).toEqual(['db-hidden']);
  });

  it.each([
    ['no refs', '{"image":"x","command":["true"]}', []],
    ['netns', `{"netns":${ns('db')}}`, ['db']],
    ['every namespace', `{"netns":${ns('n')},"pidns":${ns('p')},"ipcns":${ns('i')},"utsns":${ns('u')},"userns":${ns('us')},"cgroupns":${ns('c')}}`, ['n', 'p', 'i', 'u', 'us', 'c']],
    ['other modes name no container', '{"netns":{"nsmode":"path","value":"/proc/1/ns/net"},"pidns":{"nsmode":"host"},"ipcns":{"nsmode":"pod"},"utsns":{}}', []],
    ['upper-case keys (probe: NETNS/NSMODE/VALUE)', '{"NETNS":{"NSMODE":"container","VALUE":"nope-NS"}}', ['nope-NS']],
    ['mixed case keys', '{"PidNs":{"NsMode":"container","Value":"db"}}', ['db']],
    ['any spelling of the mode', '{"netns":{"nsmode":"CONTAINER","value":"db"}}', ['db']],
    ['volumes_from with options, split at the first colon', '{"volumes_from":["db:ro,z","web-a","x:y:z"]}', ['db', 'web-a', 'x']],
    ['dependencyContainers', '{"dependencyContainers":["db","web-a"]}', ['db', 'web-a']],
    ['DEPENDENCYCONTAINERS', '{"DEPENDENCYCONTAINERS":["db"]}', ['db']],
    ['devices_from', '{"devices_from":["db"]}', ['db']],
    ['an empty ref is still a ref', '{"volumes_from":[""],"netns":{"nsmode":"container"}}', ['']],
    // Go decodes duplicate keys in order: the last one wins ...
    ['duplicate keys: the last wins', `{"netns":${ns('web-a')},"NETNS":${ns('db')}}`, ['db']],
    // ... where JSON.parse keeps an exact duplicate at its first place: netns(C), NETNS(B) would judge B.
    ['duplicate keys out of order', `{"netns":${ns('a')},"NETNS":${ns('b')},"netns":${ns('c')}}`, ['c']],
    ['duplicate list: the last replaces', '{"volumes_from":["db"],"VOLUMES_FROM":["web-a"]}', ['web-a']],
    ['duplicate list set to null', '{"volumes_from":["db"],"volumes_from":null}', []],
    // ... and merges a later object into the struct an earlier one set.
    ['nested: a later object merges into the struct', `{"netns":${ns('web-a')},"NetNS":{"value":"db"}}`, ['db']],
    ['nested: an exact duplicate merges (JSON.parse would lose the mode)', '{"netns":{"nsmode":"container"},"netns":{"value":"db"}}', ['db']],
    ['nested: duplicate inner keys, the last wins', '{"netns":{"value":"web-a","nsmode":"container","VALUE":"db"}}', ['db']],
    ['nested: a later mode replaces the earlier', `{"netns":${ns('db')},"netns":{"nsmode":"host"}}`, []],
    ['null leaves a struct as it was', `{"netns":${ns('db')},"netns":null}`, ['db']],
    ['null leaves a string as it was', '{"netns":{"nsmode":"container","value":"db","value":null}}', ['db']],
    // Go matches names with Unicode folding: the long s is an s.
    ['long s in a key', '{"pidn\u017f":{"n\u017fmode":"container","value":"db"}}', ['db']],
    ['long s in a list key', '{"volume\u017f_from":["db"]}', ['db']],
    ['escaped key', '{"\\u006eetns":{"nsmode":"container","value":"db"}}', ['db']],
    ['nested deeper than the top level is not the field', `{"x":{"netns":${ns('db')}},"labels":{"volumes_from":"db"}}`, []],
    ['strings that look like JSON', `{"a":"}\\"{[","netns":${ns('db')},"b":["]"]}`, ['db']],
    ['not an object', '["netns"]', []],
    ['null body', 'null', []],
  ])('%s', (_how, body, containers) => {
    expect(libpodRefsInCreateBody(body).containers).toEqual(containers);
  });

  it.each([
    ['absent', '{"image":"x"}', ''],
    ['set', '{"pod":"media-pod"}', 'media-pod'],
    ['upper case', '{"POD":"media-pod"}', 'media-pod'],
    ['duplicate: the last wins', '{"pod":"a","Pod":"b"}', 'b'],
    ['null leaves it', '{"pod":"a","pod":null}', 'a'],
    ['empty: no pod', '{"pod":""}', ''],
  ])('pod %s', (_how, body, pod) => {
    expect(libpodRefsInCreateBody(body).pod).toBe(pod);
  });

  it('scans deep nesting without recursion', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(libpodRefsInCreateBody(`{"x":${deep},"netns":${ns('db')}}`).containers).toEqual(['db']);
  });

  it.each([
    ['a namespace as a string', '{"netns":"container:db"}'],
    ['a namespace value as a number', '{"netns":{"nsmode":"container","value":5}}'],
    ['a mode as an object', '{"pidns":{"nsmode":{},"value":"db"}}'],
    ['a list as a string', '{"volumes_from":"db"}'],
    ['null in a list (Go would keep an earlier element)', '{"volumes_from":["db"],"volumes_from":[null]}'],
    ['a number in a list', '{"dependencyContainers":[1]}'],
    ['a pod as a number', '{"pod":1}'],
  ])('refuses what Podman would not decode: %s', (_how, body) => {
    expect(() => libpodRefsInCreateBody(body)).toThrow(UnjudgedBodyError);
  });

  it('throws SyntaxError for text that is not JSON', () => {
    expect(() => libpodRefsInCreateBody('{"netns":')).toThrow(SyntaxError);
    expect(() => libpodRefsInCreateBody('{"image":"x"} {"netns":{}}')).toThrow(SyntaxError);
  });

  it('folds names as Go does', () => {
    expect(goFold('VOLUME\u017f_FROM')).toBe('volumes_from');
    expect(goFold('\u212A')).toBe('k');
  });
});

describe('libpodRefsInConnectBody', () => {
  it.each([
    ['recorded connect', '{"container":"job-stopped","interface_name":""}', ['job-stopped']],
    ['recorded disconnect', '{"Container":"job-stopped","Force":false}', ['job-stopped']],
    ['probe: both keys, the last wins', '{"container":"nope-first","CONTAINER":"nope-last"}', ['nope-last']],
    ['exact duplicate out of order', '{"container":"a","Container":"b","container":"c"}', ['c']],
    ['null leaves it', '{"container":"db","container":null}', ['db']],
    ['upper case beside network options', '{"CONTAINER":"db","static_ips":["10.0.0.2"]}', ['db']],
    ['none', '{"Force":true}', []],
  ])('%s', (_how, body, refs) => {
    expect(libpodRefsInConnectBody(body)).toEqual(refs);
  });

  it('refuses a container that is not a string', () => {
    expect(() => libpodRefsInConnectBody('{"container":["db"]}')).toThrow(UnjudgedBodyError);
  });
});

describe('libpod commit query', () => {
  const RECORDED = 'author=&comment=&container=job-stopped&format=oci&pause=false&repo=local%2Fcommitted&squash=false&tag=1';
  const ID = 'c'.repeat(64);

  it.each([
    [RECORDED, ['job-stopped']],
    ['CONTAINER=a&container=b&Container=c', ['a', 'b', 'c']],
    ['%63ontainer=db&repo=r', ['db']],
    ['container=&repo=r', ['']],
    ['repo=r', []],
  ])('?%s → %j', (query, refs) => {
    expect(libpodCommitRefs(query)).toEqual(refs);
  });

  it.each([
    [RECORDED, `author=&comment=&format=oci&pause=false&repo=local%2Fcommitted&squash=false&tag=1&container=${ID}`],
    ['CONTAINER=a&repo=r&container=b&Container=c', `repo=r&container=${ID}`],
    ['%63ontainer=db&&repo=r+s', `repo=r+s&container=${ID}`],
  ])('?%s is forwarded with one container=<id>', (query, forwarded) => {
    expect(libpodCommitQuery(query, ID)).toBe(forwarded);
  });
});

describe('libpod routes', () => {
  const WEB = JSON.parse(fixture('libpod-container-inspect-web-a.json')) as { Id: string; Name: string };
  const DB = JSON.parse(fixture('libpod-container-inspect-db-hidden.json')) as { Id: string; Name: string };
  const MEDIA_POD = JSON.parse(fixture('libpod-pod-inspect-media-pod.json')) as {
    Containers: Array<{ Id: string; Name: string }>;
    InfraContainerID: string;
  };
  const member = (name: string) => MEDIA_POD.Containers.find((c) => c.Name === name)!;
  const POD_WEB = { Id: member('pod-web').Id, Name: 'pod-web', Config: { Labels: { 'homepage.group': 'Media' } } };
  const POD_DB = { Id: member('pod-db').Id, Name: 'pod-db', Config: { Labels: null } };
  const INFRA = member('d7df075b0205-infra');
  const WEB_POD_INFRA = 'f'.repeat(64);
  /** A pod holding only a visible container (and a hidden infra container, which does not count). */
  const WEB_POD = {
    Id: 'e'.repeat(64),
    Name: 'web-pod',
    InfraContainerID: WEB_POD_INFRA,
    Containers: [{ Id: WEB_POD_INFRA, Name: 'eeeeeeeeeeee-infra', State: 'running' }, { Id: POD_WEB.Id, Name: 'pod-web', State: 'running' }],
  };
  const MISSING = { cause: 'no such container', message: 'no container with name or ID "nope" found: no such container', response: 404 };

  let upstream: FakeUpstream;
  let app: FastifyInstance;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    const containers = new Map<string, unknown>();
    for (const c of [WEB, DB, POD_WEB, POD_DB]) {
      containers.set(c.Name, c);
      containers.set(c.Id, c);
    }
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('?')[0]!.split('/')[4]!);
      const found = containers.get(ref);
      json(found === undefined ? 404 : 200, found ?? { ...MISSING, message: MISSING.message.replace('nope', ref) })(r, res);
    });
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/pods\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('/')[4]!);
      if (ref === 'broken-pod') return json(500, { cause: 'x', message: 'boom', response: 500 })(r, res);
      const pod = ref === 'media-pod' ? MEDIA_POD : ref === 'web-pod' ? WEB_POD : undefined;
      json(pod === undefined ? 404 : 200, pod ?? { cause: 'no such pod', message: `no pod with name or ID ${ref} found: no such pod`, response: 404 })(r, res);
    });
    // Like Podman: a request naming a container it does not have (docker-sieve's unused name) is its 404.
    upstream.on('POST', /.*/, (r, res) => {
      const unused = /docker-sieve-no-such-container-[0-9a-f]+/.exec(`${r.url} ${r.body.toString()}`)?.[0];
      if (unused !== undefined) return json(404, { ...MISSING, message: MISSING.message.replace('nope', unused) })(r, res);
      return json(201, { Id: 'new', Warnings: [] })(r, res);
    });
  });

  afterEach(async () => {
    await app?.close();
    await upstream.close();
  });

  /**
   * The app, with the three libpod kinds routed to containerRefsRoute (as routes.ts will once they are in
   * LIBPOD_HANDLED): the edge and its hooks are the app's own.
   */
  async function start(env: Env = {}): Promise<void> {
    app = await buildApp({
      config: parseConfig({ PROXY_URL: upstream.url, CONTAINER_NAMES: 'web', LOG_LEVEL: 'silent', ...env }),
      resolver: { watchEvents: false },
    });
    const gate = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const target = classifyTarget(request.method, request.raw.url ?? '/');
      if (target.kind !== 'container-create' && target.kind !== 'network-connect' && target.kind !== 'commit') {
        throw new Error(`unexpected target ${target.kind}`);
      }
      expect(target.api).toBe('libpod');
      await containerRefsRoute(app.sieve, target, request, reply);
      return reply;
    };
    for (const url of ['/v4.3.1/libpod/containers/create', '/v4.3.1/libpod/networks/:name/connect', '/v4.3.1/libpod/networks/:name/disconnect', '/v4.3.1/libpod/commit']) {
      app.post(url, gate);
    }
  }

  const posts = () => upstream.requests.filter((r) => r.method === 'POST');
  /** What reached the daemon for a refused request: at most a request about an unused name, never the hidden one. */
  const nothingCreated = () => {
    for (const post of posts()) {
      expect(`${post.url} ${post.body.toString()}`).toMatch(/docker-sieve-no-such-container-/);
      expect(`${post.url} ${post.body.toString()}`).not.toContain('db-hidden');
      expect(`${post.url} ${post.body.toString()}`).not.toContain(DB.Id);
    }
  };
  const lookups = () => upstream.requests.filter((r) => r.method === 'GET').map((r) => r.url);
  const create = (payload: string) =>
    app.inject({ method: 'POST', url: '/v4.3.1/libpod/containers/create', headers: { 'content-type': 'application/json' }, payload });
  const hiddenBody = { cause: 'no such container', message: 'no container with name or ID "db-hidden" found: no such container', response: 404 };

  it('forwards the recorded podman CLI body, naming only visible containers, as the exact bytes judged', async () => {
    await start();
    const response = await create(CLIENT_CREATE_BODY);
    expect(response.statusCode).toBe(201);
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.url).toBe('/v4.3.1/libpod/containers/create');
    expect(posts()[0]!.body.toString('utf8')).toBe(CLIENT_CREATE_BODY);
    expect(lookups()).toEqual(['/v4.0.0/libpod/containers/web-a/json']);
  });

  it.each([
    ['the recorded body, pointed at it', CLIENT_CREATE_BODY.replaceAll('"web-a"', '"db-hidden"')],
    ['netns', `{"image":"x","netns":${ns('db-hidden')}}`],
    ['pidns', `{"image":"x","pidns":${ns('db-hidden')}}`],
    ['ipcns', `{"image":"x","ipcns":${ns('db-hidden')}}`],
    ['utsns', `{"image":"x","utsns":${ns('db-hidden')}}`],
    ['userns', `{"image":"x","userns":${ns('db-hidden')}}`],
    ['cgroupns', `{"image":"x","cgroupns":${ns('db-hidden')}}`],
    ['volumes_from with options', '{"image":"x","volumes_from":["db-hidden:ro"]}'],
    ['dependencyContainers', '{"image":"x","dependencyContainers":["web-a","db-hidden"]}'],
    ['devices_from', '{"image":"x","devices_from":["db-hidden"]}'],
    ['upper-case keys', '{"IMAGE":"x","NETNS":{"NSMODE":"CONTAINER","VALUE":"db-hidden"}}'],
    ['a duplicate key, the last one', `{"netns":${ns('web-a')},"NETNS":${ns('db-hidden')}}`],
    ['a duplicate key, out of order', `{"netns":${ns('web-a')},"NETNS":${ns('web-a')},"netns":${ns('db-hidden')}}`],
    ['a nested merge', `{"netns":{"nsmode":"container"},"netns":{"value":"db-hidden"}}`],
  ])('create naming a hidden container through %s is 404 and nothing is created', async (_how, body) => {
    await start();
    const response = await create(body);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual(hiddenBody);
    nothingCreated();
  });

  it('create naming a missing container is 404 like a hidden one', async () => {
    await start();
    const response = await create('{"image":"x","volumes_from":["nope"]}');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual(MISSING);
    const empty = await create('{"image":"x","netns":{"nsmode":"container","value":""}}');
    expect(empty.statusCode).toBe(404);
    nothingCreated();
    expect(lookups()).toEqual(['/v4.0.0/libpod/containers/nope/json']);
  });

  it('create in a pod holding a hidden container is 403; the infra container does not count', async () => {
    await start();
    const refused = await create('{"image":"x","pod":"media-pod"}');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().message).toBe('docker-sieve: pod media-pod holds containers this profile cannot see, so no container may join it');
    nothingCreated();
    expect(lookups()).not.toContain(`/v4.0.0/libpod/containers/${INFRA.Id}/json`);

    const body = '{"image":"x","POD":"web-pod"}';
    const joined = await create(body);
    expect(joined.statusCode).toBe(201);
    expect(posts().map((r) => r.body.toString('utf8'))).toEqual([body]);
    expect(lookups()).not.toContain(`/v4.0.0/libpod/containers/${WEB_POD_INFRA}/json`);
    expect(lookups()).toContain(`/v4.0.0/libpod/containers/${POD_WEB.Id}/json`);
  });

  it('create in a pod: the last duplicate is the pod judged; a missing pod is left to Podman; a failed lookup fails closed', async () => {
    await start();
    expect((await create('{"pod":"web-pod","Pod":"media-pod"}')).statusCode).toBe(403);
    nothingCreated();
    expect((await create('{"pod":"nope-pod"}')).statusCode).toBe(201);
    expect(posts()).toHaveLength(1);
    const broken = await create('{"pod":"broken-pod"}');
    expect(broken.statusCode).toBe(502);
    expect(posts()).toHaveLength(1);
  });

  it('create with a visible ref in a pod of hidden containers is still 403; a hidden ref is 404 before the pod is looked up', async () => {
    await start();
    expect((await create(`{"pod":"media-pod","netns":${ns('web-a')}}`)).statusCode).toBe(403);
    expect((await create(`{"pod":"media-pod","netns":${ns('db-hidden')}}`)).statusCode).toBe(404);
    expect(lookups().filter((url) => url.includes('/pods/'))).toHaveLength(1);
    nothingCreated();
  });

  it('refuses a create body it cannot judge: too large (413), not JSON (400), a field Podman would not decode (400)', async () => {
    await start();
    const big = await create(JSON.stringify({ image: 'x', pad: 'x'.repeat(MAX_JUDGED_BODY) }));
    expect(big.statusCode).toBe(413);
    const bad = await create('{"netns":');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('docker-sieve: the request body is not valid JSON');
    const typed = await create('{"netns":"container:db-hidden"}');
    expect(typed.statusCode).toBe(400);
    expect(typed.json().message).toMatch(/"netns" is not an object/);
    nothingCreated();
  });

  it.each([
    ['connect', '{"container":"db-hidden","interface_name":""}'],
    ['disconnect', '{"Container":"db-hidden","Force":false}'],
    ['connect', '{"container":"web-a","CONTAINER":"db-hidden"}'],
  ])('network %s of a hidden container is 404 and not forwarded', async (action, body) => {
    await start();
    const response = await app.inject({ method: 'POST', url: `/v4.3.1/libpod/networks/net-a/${action}`, payload: body });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual(hiddenBody);
    nothingCreated();
  });

  it('network connect and disconnect of a visible container are forwarded as sent', async () => {
    await start();
    for (const [action, body] of [
      ['connect', '{"container":"web-a","interface_name":""}'],
      ['disconnect', '{"Container":"web-a","Force":false}'],
    ] as const) {
      const response = await app.inject({ method: 'POST', url: `/v4.3.1/libpod/networks/net-a/${action}`, headers: { 'content-type': 'application/json' }, payload: body });
      expect(response.statusCode).toBe(201);
      expect(posts().at(-1)!.url).toBe(`/v4.3.1/libpod/networks/net-a/${action}`);
      expect(posts().at(-1)!.body.toString('utf8')).toBe(body);
    }
  });

  it.each([
    'container=db-hidden&repo=r',
    'CONTAINER=db-hidden&repo=r',
    'container=web-a&Container=db-hidden',
    'container=db-hidden&container=web-a',
    'container=&repo=r',
  ])('commit ?%s is 404 and not forwarded', async (query) => {
    await start();
    const response = await app.inject({ method: 'POST', url: `/v4.3.1/libpod/commit?${query}` });
    expect(response.statusCode).toBe(404);
    nothingCreated();
  });

  it('commit of a visible container goes out by full ID, under the one key Podman reads', async () => {
    await start();
    const recorded = 'author=&comment=&container=web-a&format=oci&pause=false&repo=local%2Fcommitted&squash=false&tag=1';
    expect((await app.inject({ method: 'POST', url: `/v4.3.1/libpod/commit?${recorded}` })).statusCode).toBe(201);
    expect(posts()[0]!.url).toBe(`/v4.3.1/libpod/commit?author=&comment=&format=oci&pause=false&repo=local%2Fcommitted&squash=false&tag=1&container=${WEB.Id}`);
    expect((await app.inject({ method: 'POST', url: '/v4.3.1/libpod/commit?Container=web-a&repo=r' })).statusCode).toBe(201);
    expect(posts()[1]!.url).toBe(`/v4.3.1/libpod/commit?repo=r&container=${WEB.Id}`);
  });
});
