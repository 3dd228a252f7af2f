// Opt-in metrics (METRICS_PORT): a separate listener with /metrics (Prometheus text) and /healthz, never on
// the API port, so a client of the Docker API can neither see nor reach it.
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { ResolverStats } from './upstream/resolver.js';

export interface Metrics {
  readonly registry: Registry;
  observeRequest(route: string, decision: string, profile: string): void;
  observeUpstream(kind: 'lookup' | 'forward' | 'filter', seconds: number): void;
  observeHidden(route: string, hidden: number): void;
  /** A config file reload: `ok`, `invalid` (the file has errors) or `refused` (it needs a restart). */
  observeReload(result: 'ok' | 'invalid' | 'refused'): void;
}

/** Decisions as label values: `filtered kept 3 of 9` counts as `filtered`. */
function decisionLabel(decision: string): string {
  const word = decision.split(' ')[0];
  return word === undefined || word === '' ? 'none' : word;
}

export function createMetrics(resolverStats: () => ResolverStats): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'docker_sieve_' });
  const requests = new Counter({
    name: 'docker_sieve_requests_total',
    help: 'Requests by route family and decision',
    labelNames: ['route', 'decision', 'profile'] as const,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: 'docker_sieve_upstream_seconds',
    help: 'Time to the upstream response headers',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const hidden = new Counter({
    name: 'docker_sieve_containers_hidden_total',
    help: 'Entries dropped from filtered lists and streams',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'docker_sieve_config_reloads_total',
    help: 'Config file reloads by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // The resolver keeps its own counts; these read them when scraped.
  for (const [name, help, key] of [
    ['docker_sieve_resolver_cache_hits_total', 'Container refs answered from the cache', 'hits'],
    ['docker_sieve_resolver_cache_misses_total', 'Container refs not in the cache', 'misses'],
    ['docker_sieve_resolver_lookups_total', 'Container inspects sent upstream', 'lookups'],
  ] as const) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(resolverStats()[key]);
      },
    });
  }
  return {
    registry,
    observeRequest: (route, decision, profile) => requests.inc({ route, decision: decisionLabel(decision), profile }),
    observeUpstream: (kind, seconds) => upstream.observe({ kind }, seconds),
    observeReload: (result) => reloads.inc({ result }),
    observeHidden: (route, count) => {
      if (count > 0) hidden.inc({ route }, count);
    },
  };
}

export async function startMetricsServer(metrics: Metrics, port: number, host: string | undefined, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': metrics.registry.contentType });
          response.end(text);
        },
        (error: Error) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`${error.message}\n`);
        },
      );
      return;
    }
    if (request.method === 'GET' && path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('ok\n');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host ?? '::', () => resolve());
  });
  log.info({ port }, 'metrics listening');
  return server;
}
