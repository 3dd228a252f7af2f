// A static upstream on loopback that answers like dockerd from recorded bodies, so docker-sieve's own cost is
// measured and not the daemon's. The container list is the recorded one, scaled to any size.
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const HEADERS = {
  'api-version': '1.41',
  'docker-experimental': 'false',
  ostype: 'linux',
  server: 'Docker/20.10.24+dfsg1 (linux)',
};

export interface StaticUpstream {
  url: string;
  /** Requests served, by path family. */
  counts: Map<string, number>;
  /** The list body, exactly as served. */
  listBody: Buffer;
  close(): Promise<void>;
}

/** `count` containers made from the recorded list; names `web-N` (visible) and `db-N` alternate. */
export function scaledList(count: number): { body: Buffer; names: string[] } {
  const template = (JSON.parse(readFileSync(new URL('containers-list.v1.41.json', FIXTURES), 'utf8')) as Array<Record<string, unknown>>).at(-1)!;
  const names: string[] = [];
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = i % 2 === 0 ? `web-${i}` : `db-${i}`;
    names.push(name);
    const id = i.toString(16).padStart(64, '0');
    parts.push(JSON.stringify({ ...template, Id: id, Names: [`/${name}`], Labels: { ...(template.Labels as object), index: String(i) } }));
  }
  return { body: Buffer.from(`[${parts.join(',')}]\n`), names };
}

export async function startStaticUpstream(options: { containers: number; port?: number }): Promise<StaticUpstream> {
  const { body: listBody, names } = scaledList(options.containers);
  const inspectTemplate = JSON.parse(readFileSync(new URL('container-inspect.v1.41.json', FIXTURES), 'utf8')) as Record<string, unknown>;
  const inspects = new Map<string, Buffer>();
  names.forEach((name, i) => {
    const id = i.toString(16).padStart(64, '0');
    const body = Buffer.from(`${JSON.stringify({ ...inspectTemplate, Id: id, Name: `/${name}` })}\n`);
    inspects.set(name, body);
    inspects.set(id, body);
  });
  const version = readFileSync(new URL('version.v1.41.json', FIXTURES));
  const counts = new Map<string, number>();
  const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

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
      // Chunked, like dockerd.
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/json' });
      for (let at = 0; at < listBody.length; at += 64 * 1024) res.write(listBody.subarray(at, at + 64 * 1024));
      res.end();
      return;
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (inspect !== null) {
      count('inspect');
      const body = inspects.get(decodeURIComponent(inspect[1]!));
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
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('Forbidden\n');
      return;
    }
    count('other');
    res.writeHead(404, { ...HEADERS, 'content-type': 'application/json' });
    res.end('{"message":"page not found"}\n');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    listBody,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
