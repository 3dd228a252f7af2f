// A scripted upstream on loopback for unit tests: real HTTP, so the app's undici client is exercised as it is
// in production, and every request it receives is recorded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type FakeHandler = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

export interface FakeUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Handlers by `METHOD path` (path without query); the first match wins, then `fallback`. */
  on(method: string, path: string | RegExp, handler: FakeHandler): void;
  close(): Promise<void>;
}

export const DAEMON_HEADERS = {
  'api-version': '1.41',
  'docker-experimental': 'false',
  ostype: 'linux',
  server: 'Docker/20.10.24+dfsg1 (linux)',
};

export function json(status: number, body: unknown): FakeHandler {
  return (_request, response) => {
    response.writeHead(status, { ...DAEMON_HEADERS, 'content-type': 'application/json' });
    response.end(`${typeof body === 'string' ? body : JSON.stringify(body)}\n`);
  };
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const routes: Array<{ method: string; path: string | RegExp; handler: FakeHandler }> = [];
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
    requests.push(recorded);
    const path = recorded.url.split('?')[0]!;
    const route = routes.find(
      (r) => r.method === recorded.method && (typeof r.path === 'string' ? r.path === path : r.path.test(path)),
    );
    if (route === undefined) {
      json(404, { message: 'page not found' })(recorded, res);
      return;
    }
    await route.handler(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    on(method, path, handler) {
      routes.push({ method, path, handler });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
