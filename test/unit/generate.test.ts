// GET /libpod/generate/kube?names= (and /libpod/kube/generate), GET /libpod/generate/{name}/systemd: the pure
// parts as tables, then the route as routes.ts wires it, through the app against a scripted Podman 4.3.1 that
// reads its query as Podman does (gorilla/schema: any spelling of `names`, strings.EqualFold).
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Env } from '../../src/config.js';
import { classifyTarget, parseApiVersion } from '../../src/docker/target.js';
import { generateRefusedWhileScrubbing, generateSystemdPath, planGenerateKubeQuery } from '../../src/filters/libpod-pods-lookup.js';
import { startFakeUpstream, type FakeHandler, type FakeUpstream } from './fake-upstream.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
const kubeWebA = fixture('libpod-generate-kube-web-a.txt');
const systemdWebA = fixture('libpod-generate-systemd-web-a.json');
const systemdPod = fixture('libpod-generate-systemd-media-pod.json');
const podInspect = JSON.parse(fixture('libpod-pod-inspect-media-pod.json')) as { Id: string };
const probes = JSON.parse(fixture('libpod-probes.json')) as Array<{ note: string; status: number; bodyStart: string }>;

interface ListEntry {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
}
const containers = JSON.parse(fixture('libpod-containers-list.json')) as ListEntry[];
const POD_ID = podInspect.Id;

/** What Podman's LookupContainer finds: a name, a full ID or a unique ID prefix. */
function container(ref: string): ListEntry | undefined {
  const found = containers.filter((c) => c.Names[0] === ref || (ref.length >= 3 && c.Id.startsWith(ref)));
  return found.length === 1 ? found[0] : undefined;
}
const isPod = (ref: string): boolean => ref === 'media-pod' || (ref.length >= 3 && POD_ID.startsWith(ref));

describe('planGenerateKubeQuery: the names Podman reads', () => {
  it.each([
    ['names=web-a&service=false', ['web-a'], 'names=ID0&service=false'],
    // Recorded: NAMES= and repeated names= are read.
    ['NAMES=db-hidden', ['db-hidden'], 'names=ID0'],
    ['names=web-a&names=db-hidden', ['web-a', 'db-hidden'], 'names=ID0&names=ID1'],
    // strings.EqualFold: the long s is an s.
    ['name%C5%BF=db-hidden', ['db-hidden'], 'names=ID0'],
    ['Names=a&nAmEs=b', ['a', 'b'], 'names=ID0&names=ID1'],
    ['names=a,b', ['a,b'], 'names=ID0'],
    ['names=', [], ''],
    ['names=x;y', [], ''],
    ['', [], ''],
  ])('%j: %j, forwarded as %j', (query, names, forwarded) => {
    const plan = planGenerateKubeQuery(query);
    expect(plan.values).toEqual(names);
    expect(plan.query(names.map((_n, i) => `ID${i}`))).toBe(forwarded);
  });

  it('generateSystemdPath puts the judged ID where the ref was', () => {
    for (const [url, ref] of [
      ['/v4.3.1/libpod/generate/web-a/systemd', 'web-a'],
      ['/v4.3.1/libpod/generate/web-a/x/systemd', 'web-a/x'],
      ['/v4.3.1/libpod/generate/web%2Da/systemd', 'web-a'],
    ] as const) {
      const target = classifyTarget('GET', url);
      if (target.kind !== 'generate') throw new Error(target.kind);
      expect(target.ref).toBe(ref);
      expect(generateSystemdPath(target.path, target.ref!, 'f'.repeat(64))).toBe(`/v4.3.1/libpod/generate/${'f'.repeat(64)}/systemd`);
    }
    expect(generateSystemdPath('/v4.3.1/libpod/generate/kube', 'web-a', 'x')).toBeUndefined();
  });

  it('the refusal with SCRUB_ENVS says why', () => {
    const refusal = generateRefusedWhileScrubbing('kube', parseApiVersion('4.3.1'));
    expect(refusal.status).toBe(403);
    expect(JSON.parse(refusal.body).message).toMatch(/env values and command lines/);
  });
});

describe('generate through the app, against a scripted Podman', () => {
  let upstream: FakeUpstream;
  let app: FastifyInstance | undefined;

  const send =
    (status: number, body: string, type = 'application/json'): FakeHandler =>
    (_r, res) => {
      res.writeHead(status, { 'content-type': type, 'libpod-api-version': '4.3.1' });
      res.end(body);
    };
  const podmanError = (status: number, cause: string, message: string) => JSON.stringify({ cause, message, response: status });

  /** What a generate request made Podman read: every container and pod it would export. */
  const exported: string[] = [];

  beforeEach(async () => {
    exported.length = 0;
    upstream = await startFakeUpstream();
    upstream.on('GET', /^\/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/, (r, res) => {
      const found = container(decodeURIComponent(r.url.split('?')[0]!.split('/')[4]!));
      if (found === undefined) return send(404, fixture('libpod-container-inspect-missing.json'))(r, res);
      return send(200, JSON.stringify({ Id: found.Id, Name: found.Names[0], Config: { Labels: found.Labels, Env: ['SECRET=hunter2'] } }))(r, res);
    });
    upstream.on('GET', /^\/v[0-9.]+\/libpod\/pods\/[^/]+\/json$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('?')[0]!.split('/')[4]!);
      if (!isPod(ref)) return send(404, podmanError(404, 'no such pod', `no pod with name or ID ${ref} found: no such pod`))(r, res);
      return send(200, fixture('libpod-pod-inspect-media-pod.json'))(r, res);
    });
    const kube: FakeHandler = (r, res) => {
      // GenerateKube: each name a container, else a pod, else an error; the query read by gorilla/schema.
      for (const name of planGenerateKubeQuery(r.url.split('?')[1] ?? '').values) {
        const found = container(name);
        if (found === undefined && !isPod(name)) return send(500, podmanError(500, `name or ID "${name}" not found`, `generating YAML: name or ID "${name}" not found`))(r, res);
        exported.push(found?.Names[0] ?? 'media-pod');
      }
      return send(200, exported.includes('db-hidden') ? kubeWebA.replaceAll('web-a', 'db-hidden') : kubeWebA, 'application/x-tar')(r, res);
    };
    upstream.on('GET', '/v4.3.1/libpod/generate/kube', kube);
    upstream.on('GET', '/v4.3.1/libpod/kube/generate', kube);
    upstream.on('GET', /^\/v4\.3\.1\/libpod\/generate\/.+\/systemd$/, (r, res) => {
      const ref = decodeURIComponent(r.url.split('?')[0]!.slice('/v4.3.1/libpod/generate/'.length, -'/systemd'.length));
      const found = container(ref);
      if (found !== undefined) {
        exported.push(found.Names[0]!);
        return send(200, systemdWebA.replaceAll('82a3666d5452', found.Id.slice(0, 12)))(r, res);
      }
      if (isPod(ref)) {
        exported.push('media-pod');
        return send(200, systemdPod)(r, res);
      }
      const message = `generating systemd units: ${ref} does not refer to a container or pod: no pod with name or ID ${ref} found: no such pod: no container with name or ID "${ref}" found: no such container`;
      return send(500, podmanError(500, 'no such container', message))(r, res);
    });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await upstream.close();
  });

  async function start(env: Env = {}): Promise<void> {
    app = await buildApp({ config: parseConfig({ PROXY_URL: upstream.url, LOG_LEVEL: 'silent', ...env }), resolver: { watchEvents: false } });
  }
  const get = (url: string) => app!.inject({ method: 'GET', url });
  const generated = () => upstream.requests.filter((r) => /\/(generate|kube)\//.test(r.url) && !r.url.includes('/v4.0.0/'));

  it('the recorded probe: a systemd name that is nothing is a 500 from Podman', () => {
    const probe = probes.find((p) => p.note.startsWith('generate systemd'))!;
    expect(probe.status).toBe(500);
    expect(probe.bodyStart).toContain('does not refer to a container or pod');
  });

  it.each([
    ['/v4.3.1/libpod/generate/kube?names=web-a'],
    ['/v4.3.1/libpod/kube/generate?names=web-a'],
    ['/v4.3.1/libpod/generate/web-a/systemd?new=true'],
  ])('%s with SCRUB_ENVS: 403, nothing asked of the daemon', async (url) => {
    await start({ CONTAINER_NAMES: 'web-a', SCRUB_ENVS: 'true' });
    const response = await get(url);
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toMatch(/env values and command lines/);
    expect(generated()).toEqual([]);
  });

  it.each([
    ['a visible container', '/v4.3.1/libpod/generate/kube?names=web-a&service=false', 'web', ['web-a']],
    ['a visible container, by ID prefix', '/v4.3.1/libpod/kube/generate?names=82a3666d', 'web', ['web-a']],
    ['a pod whose every member is visible', '/v4.3.1/libpod/generate/kube?names=media-pod', 'pod-', ['media-pod']],
    ['a visible container (systemd)', '/v4.3.1/libpod/generate/web-a/systemd?new=true', 'web', ['web-a']],
    ['a pod whose every member is visible (systemd)', '/v4.3.1/libpod/generate/media-pod/systemd', 'pod-', ['media-pod']],
  ])('%s: forwarded', async (_title, url, names, expected) => {
    await start({ CONTAINER_NAMES: names });
    const response = await get(url);
    expect(response.statusCode).toBe(200);
    expect(exported).toEqual(expected);
  });

  it('no name at all: forwarded, Podman answers for itself', async () => {
    await start({ CONTAINER_NAMES: 'web' });
    const response = await get('/v4.3.1/libpod/generate/kube');
    expect(response.statusCode).toBe(200);
    expect(generated()).toHaveLength(1);
    expect(exported).toEqual([]);
  });

  it.each([
    ['a hidden container', '/v4.3.1/libpod/generate/kube?names=db-hidden', 'db-hidden'],
    ['a hidden container, upper-case key', '/v4.3.1/libpod/generate/kube?NAMES=db-hidden', 'db-hidden'],
    ['a hidden container among visible ones', '/v4.3.1/libpod/generate/kube?names=web-a&names=db-hidden', 'db-hidden'],
    ['a hidden container under another spelling', '/v4.3.1/libpod/generate/kube?names=web-a&Names=db-hidden', 'db-hidden'],
    ['a hidden container, by ID prefix', '/v4.3.1/libpod/generate/kube?names=1b69cbc15760', '1b69cbc15760'],
    ['a hidden container, long-s key (strings.EqualFold)', '/v4.3.1/libpod/generate/kube?name%C5%BF=db-hidden', 'db-hidden'],
    ['a hidden container, kube generate route', '/v4.3.1/libpod/kube/generate?names=db-hidden', 'db-hidden'],
    ['a pod holding a hidden member', '/v4.3.1/libpod/generate/kube?names=media-pod', 'media-pod'],
    ['a missing name', '/v4.3.1/libpod/generate/kube?names=nope', 'nope'],
    ['a hidden container (systemd)', '/v4.3.1/libpod/generate/db-hidden/systemd?new=true', 'db-hidden'],
    ['a pod holding a hidden member (systemd)', '/v4.3.1/libpod/generate/media-pod/systemd', 'media-pod'],
  ])('%s: answered as missing, and nothing hidden is exported', async (_title, url, ref) => {
    await start({ CONTAINER_NAMES: 'web-a,pod-web' });
    const response = await get(url);
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.body).toContain(ref);
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('apiVersion');
    expect(exported.filter((name) => name === 'db-hidden' || name === 'media-pod')).toEqual([]);
  });
});
