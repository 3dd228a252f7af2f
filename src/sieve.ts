// What every route handler works with: the config, the compiled policy, the upstream client and the resolver.
import type { Config } from './config.js';
import type { Policy } from './policy.js';
import type { Resolver } from './resolver.js';
import type { Upstream } from './upstream.js';
import type { ExecResolver } from './exec-gate.js';
import type { ClientAllowlist } from './allow-from.js';
import type { Metrics } from './metrics.js';

export interface Sieve {
  readonly config: Config;
  readonly policy: Policy;
  readonly upstream: Upstream;
  readonly resolver: Resolver;
  readonly execs: ExecResolver;
  readonly allowlist: ClientAllowlist;
  /** undefined unless METRICS_PORT is set. */
  readonly metrics: Metrics | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** What docker-sieve decided, for the one log line per request. */
    decision: string;
    /** Set by the list filter; read when the request is logged, after the body has streamed. */
    listSummary: { kept: number; seen: number } | null;
    /** The route family the target was classified as, for metrics. */
    routeKind: string;
  }
}
