// A static upstream on loopback that answers like dockerd from recorded bodies, so docker-sieve's own cost is
// measured and not the daemon's. The container list is the recorded one, scaled to any size.
//
// Run it in-process (startStaticUpstream) or as a child process of its own (upstream-process.ts), so that the
// load generator, the upstream and docker-sieve do not share an event loop.
import { createServer, type ServerResponse, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const HEADERS = {
  'api-version': '1.41',
  'docker-experimental': 'false',
  ostype: 'linux',
  server: 'Docker/20.10.24+dfsg1 (linux)',
};

export interface StaticUpstreamOptions {
  containers: number;
  port?: number;
  /**
   * `forbidden` (default): `/events` answers 403, as a socket proxy without EVENTS=1 does.
   * `live`: `/events` answers 200 and stays open; broadcastEvents() sends events to every open stream.
   */
  events?: 'forbidden' | 'live';
  /** Serve the list in chunks of this many bytes with a pause between them (a slow daemon). */
  slowList?: { chunkBytes: number; delayMs: number };
}

export interface StaticUpstream {
  url: string;
  /**
   * Requests served, by path family: `ping`, `version`, `list`, `inspect`, `events`, `other`. Inspects without
   * an `x-bench-client` header (docker-sieve's own lookups; a forwarded client request keeps the client's header)
   * are also counted as `inspect-by-id` (a full 64-hex ID) or `inspect-by-ref` (a name or a prefix).
   */
  counts: Map<string, number>;
  /** The list body, exactly as served. */
  listBody: Buffer;
  /** Date.now() when the last byte of the last list answer was handed to the socket. */
  lastListEndAt: number;
  /**
   * Sends container events to every open `/events` stream, `rate` per second for `seconds`, each written as
   * its own chunk (as dockerd flushes them). `timeNano` is the time it was written. Resolves with the count.
   */
  broadcastEvents(rate: number, seconds: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The recorded list's last entry, dressed as a container of a compose project behind Traefik: the labels,
 * ports and mount such a container has (the notes: real entries are several times the 620-850 bytes of a
 * bare busybox container). About 2 KB each, so 50,000 of them are about 100 MB.
 */
function listTemplate(): Record<string, unknown> {
  const recorded = (JSON.parse(readFileSync(new URL('containers-list.v1.41.json', FIXTURES), 'utf8')) as Array<Record<string, unknown>>).at(-1)!;
  return {
    ...recorded,
    Image: 'ghcr.io/example/media-server:2.14.3',
    Command: '/init /usr/bin/media-server --config /config/server.yaml',
    Ports: [
      { IP: '0.0.0.0', PrivatePort: 8096, PublicPort: 8096, Type: 'tcp' },
      { IP: '::', PrivatePort: 8096, PublicPort: 8096, Type: 'tcp' },
    ],
    Labels: {
      ...(recorded.Labels as Record<string, string>),
      'com.docker.compose.config-hash': 'a3f1c0de5b7e94c2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.image': 'sha256:65d5a48ca3384012b4ecfeb55bf3d0145739c7ce29eb9e5072ff6dc6d9957cef',
      'com.docker.compose.oneoff': 'False',
      'com.docker.compose.project': 'media',
      'com.docker.compose.project.config_files': '/srv/compose/media/compose.yaml,/srv/compose/media/compose.override.yaml',
      'com.docker.compose.project.working_dir': '/srv/compose/media',
      'com.docker.compose.service': 'web',
      'com.docker.compose.version': '2.24.6',
      'homepage.href': 'https://media.example.org',
      'homepage.icon': 'jellyfin.png',
      'traefik.http.routers.media.rule': 'Host(`media.example.org`) && PathPrefix(`/`)',
      'traefik.http.routers.media.entrypoints': 'websecure',
      'traefik.http.routers.media.tls.certresolver': 'letsencrypt',
      'traefik.http.services.media.loadbalancer.server.port': '8096',
    },
    Mounts: [
      { Type: 'bind', Source: '/srv/media/config', Destination: '/config', Mode: 'rw', RW: true, Propagation: 'rprivate' },
    ],
  };
}

/** The full ID of container `i` of a scaled list. */
export function containerId(i: number): string {
  return i.toString(16).padStart(64, '0');
}

/** Container `i`'s name: `web-N` (visible to CONTAINER_NAMES=web) and `db-N` alternate. */
export function containerName(i: number): string {
  return i % 2 === 0 ? `web-${i}` : `db-${i}`;
}

/** Every tenth container (i % 10 === 0) carries this label: CONTAINER_LABELS=bench.tenth=true shows 10% of a list. */
export const TENTH_LABEL = 'bench.tenth=true';

/**
 * `count` containers made from the recorded list; names `web-N` (visible to CONTAINER_NAMES=web) and `db-N`
 * alternate, and every tenth one carries TENTH_LABEL.
 */
export function scaledList(count: number): { body: Buffer; names: string[]; elementBytes: number[] } {
  const template = listTemplate();
  const names: string[] = [];
  const parts: string[] = [];
  const elementBytes: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = containerName(i);
    names.push(name);
    const part = JSON.stringify({ ...template, Id: containerId(i), Names: [`/${name}`], Labels: { ...(template.Labels as object), index: String(i), ...(i % 10 === 0 ? { 'bench.tenth': 'true' } : {}) } });
    parts.push(part);
    elementBytes.push(Buffer.byteLength(part));
  }
  return { body: Buffer.from(`[${parts.join(',')}]\n`), names, elementBytes };
}

const FULL_ID = /^[0-9a-f]{64}$/;

export async function startStaticUpstream(options: StaticUpstreamOptions): Promise<StaticUpstream> {
  const { body: listBody, names } = scaledList(options.containers);
  const inspectTemplate = JSON.parse(readFileSync(new URL('container-inspect.v1.41.json', FIXTURES), 'utf8')) as Record<string, unknown>;
  const inspects = new Map<string, Buffer>();
  names.forEach((name, i) => {
    const id = containerId(i);
    const body = Buffer.from(`${JSON.stringify({ ...inspectTemplate, Id: id, Name: `/${name}` })}\n`);
    inspects.set(name, body);
    inspects.set(id, body);
  });
  const version = readFileSync(new URL('version.v1.41.json', FIXTURES));
  const counts = new Map<string, number>();
  const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const eventStreams = new Set<ServerResponse>();
  let lastListEndAt = 0;

  function sendList(res: ServerResponse): void {
    // Chunked, like dockerd.
    res.writeHead(200, { ...HEADERS, 'content-type': 'application/json' });
    const slow = options.slowList;
    const step = slow?.chunkBytes ?? 64 * 1024;
    let at = 0;
    const finish = () => {
      res.end(() => (lastListEndAt = Date.now()));
    };
    if (slow === undefined) {
      // With backpressure: a slow reader holds the rest here, in the body that is already in memory.
      const pump = () => {
        while (at < listBody.length) {
          const piece = listBody.subarray(at, at + step);
          at += step;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        finish();
      };
      pump();
      return;
    }
    const timer = setInterval(() => {
      if (res.destroyed) {
        clearInterval(timer);
        return;
      }
      res.write(listBody.subarray(at, at + step));
      at += step;
      if (at >= listBody.length) {
        clearInterval(timer);
        finish();
      }
    }, slow.delayMs);
  }

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v[0-9.]+/, '');
    req.resume();
    if (path === '/_ping') {
      count('ping');
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': req.method === 'HEAD' ? '0' : '2' });
      res.end(req.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (path === '/version') {
      count('version');
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/json', 'content-length': String(version.length) });
      res.end(version);
      return;
    }
    if (path === '/containers/json') {
      count('list');
      sendList(res);
      return;
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (inspect !== null) {
      count('inspect');
      const ref = decodeURIComponent(inspect[1]!);
      // The bench marks its own requests: what is left by ref are docker-sieve's lookups.
      if (req.headers['x-bench-client'] === undefined) count(FULL_ID.test(ref) ? 'inspect-by-id' : 'inspect-by-ref');
      const body = inspects.get(ref);
      if (body === undefined) {
        res.writeHead(404, { ...HEADERS, 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ message: `No such container: ${inspect[1]}` })}\n`);
        return;
      }
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    if (path === '/events') {
      count('events');
      if (options.events !== 'live') {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end('Forbidden\n');
        return;
      }
      // Headers at once, then one event per chunk, as dockerd does.
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/json' });
      res.flushHeaders();
      eventStreams.add(res);
      res.on('close', () => eventStreams.delete(res));
      return;
    }
    count('other');
    res.writeHead(404, { ...HEADERS, 'content-type': 'application/json' });
    res.end('{"message":"page not found"}\n');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  async function broadcastEvents(rate: number, seconds: number): Promise<number> {
    const total = Math.round(rate * seconds);
    const actions = ['start', 'die', 'stop', 'kill', 'restart'];
    let sent = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
        for (; sent < due; sent++) {
          const i = sent % Math.max(names.length, 1);
          const name = names[i] ?? containerName(i);
          const nowNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;
          const action = actions[sent % actions.length]!;
          const id = containerId(i);
          const line = `{"status":"${action}","id":"${id}","from":"local/busybox:1","Type":"container","Action":"${action}","Actor":{"ID":"${id}","Attributes":{"com.example.visible":"true","homepage.group":"Media","image":"local/busybox:1","name":"${name}"}},"scope":"local","time":${nowNs / 1_000_000_000n},"timeNano":${nowNs}}\n`;
          for (const res of eventStreams) res.write(line);
        }
        if (sent >= total) resolve();
        else setImmediate(tick);
      };
      tick();
    });
    return sent;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    listBody,
    get lastListEndAt() {
      return lastListEndAt;
    },
    broadcastEvents,
    async close() {
      for (const res of eventStreams) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
