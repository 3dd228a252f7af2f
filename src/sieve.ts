// What every route handler works with: the config, the upstream client and the resolver, shared by every
// profile. What one client sees and may do is the request's `profile`, resolved at the edge.
import type { Config } from './config.js';
import type { Profile } from './policy/profile.js';
import type { ProfileSet } from './policy/profiles.js';
import type { Resolver } from './upstream/resolver.js';
import type { Upstream } from './upstream/upstream.js';
import type { ExecResolver } from './gates/exec.js';
import type { ClientAllowlist } from './edge/allow-from.js';
import type { Metrics } from './metrics.js';

export interface Sieve {
  readonly config: Config;
  /** The profiles and how clients are told apart, as of now: a reload swaps them. */
  readonly current: () => ProfileSet;
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
    /** The one profile this request is judged by, resolved at the edge before anything else. */
    profile: Profile;
    /** Who the edge said the client is: `listener:NAME`, `token:NAME`, `cert:CN=...`, `from:ADDRESS`, `default`. */
    client: string;
    /** audit mode: what enforce would have done (`would-hide`, `would-refuse`), or ''. */
    audit: string;
  }
}
