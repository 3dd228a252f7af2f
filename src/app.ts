// Builds the docker-sieve Fastify app. Process concerns (listening, signals) live in server.ts, so tests can
// build the app and `inject` into it.
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createUpstream, readUpstreamTls, type Upstream } from './upstream/upstream.js';
import { createResolver, type Resolver, type ResolverOptions } from './upstream/resolver.js';
import { notAllowedClient } from './docker/errors.js';
import { sendDockerError } from './upstream/forward.js';
import { createExecResolver } from './gates/exec.js';
import { classifyTarget } from './docker/target.js';
import { admit, longLived } from './routes.js';
import { envProfileSet, type ProfileSet } from './policy/profiles.js';
import { auditView, DEFAULT_PROFILE, sameRules, type Profile } from './policy/profile.js';
import { allowedSource, resolveClient } from './edge/client.js';
import { createHijack } from './hijack/upgrade.js';
import type { Sieve } from './sieve.js';
import type { Server as HttpsServer } from 'node:https';
import type { Server } from 'node:http';
import { createClientAllowlist } from './edge/allow-from.js';
import { httpsServerOptions, watchTlsFiles } from './edge/tls.js';

export interface SieveOptions {
  readonly config: Config;
  /** Overrides for the resolver (cache sizes and times, the events watch). */
  readonly resolver?: Partial<Omit<ResolverOptions, 'upstream' | 'log'>>;
  /** The profiles and clients; default: one profile, `default`, from the environment. */
  readonly profiles?: ProfileSet;
}

const sievePlugin: FastifyPluginAsync<SieveOptions> = async (app, options) => {
  const { config } = options;
  let current: ProfileSet = options.profiles ?? envProfileSet(config);
  const log = app.log as unknown as Logger;
  const upstream: Upstream = createUpstream(config.upstream, {
    connectTimeoutMs: config.timeouts.upstreamConnectMs,
    headersTimeoutMs: config.timeouts.upstreamHeadersMs,
    tls: readUpstreamTls(config.upstreamTls),
  });
  const resolver: Resolver = createResolver({
    upstream,
    log,
    ttlMs: config.cacheTtlMs,
    lookupTimeoutMs: config.timeouts.lookupMs,
    ...options.resolver,
  });
  const execs = createExecResolver({ upstream, resolver, lookupTimeoutMs: config.timeouts.lookupMs });
  const allowlist = createClientAllowlist(config.allowFrom, log);
  await allowlist.refresh();
  // prom-client is loaded only when metrics are asked for: it costs memory every process would pay.
  const metricsModule = config.metricsPort === undefined ? undefined : await import('./metrics.js');
  const metrics = metricsModule?.createMetrics(() => resolver.stats);
  if (metrics !== undefined) upstream.onTiming = (kind, seconds) => metrics.observeUpstream(kind, seconds);
  const context: Sieve = { config, current: () => current, upstream, resolver, execs, allowlist, metrics };
  app.decorate('sieve', context);

  if (metrics !== undefined) {
    let metricsServer: Server | undefined;
    app.addHook('onReady', async () => {
      metricsServer = await metricsModule!.startMetricsServer(metrics, config.metricsPort!, config.listenAddress, log);
    });
    app.addHook('onClose', async () => {
      metricsServer?.closeAllConnections();
      await new Promise<void>((resolve) => (metricsServer === undefined ? resolve() : metricsServer.close(() => resolve())));
    });
  }

  // exec and attach (Connection: Upgrade) never reach Fastify's router: Node hands them to this listener. So do
  // Podman's plain exec starts, made upgrades before Node's parser reads them (hijack/plain-start.ts).
  const hijack = createHijack(context, app.log);
  hijack.attach(app.server);
  app.decorate('attachUpgrades', (server: Server) => hijack.attach(server));
  // Upgraded sockets are no longer the server's HTTP connections: it would wait for them forever.
  app.addHook('preClose', async () => hijack.close(config.timeouts.shutdownGraceMs));
  app.addHook('onClose', async () => {
    app.server.off('upgrade', hijack.onUpgrade);
  });

  if (allowlist.active) {
    // First thing on every request: a client that is not allowed learns nothing, not even what the upstream is.
    app.addHook('onRequest', async (request, reply) => {
      if (allowedSource(allowlist, request.socket)) return;
      request.decision = 'refused';
      request.log.warn({ client: request.socket.remoteAddress }, 'client not in ALLOW_FROM');
      return sendDockerError(reply, upstream, notAllowedClient());
    });
  }

  // Long-lived answers in progress, for a reload to cut those of a changed profile.
  const streams = new Set<FastifyRequest>();
  app.decorate('swapProfiles', (next: ProfileSet): number => {
    const before = current;
    current = next;
    const stale = (profile: Profile): boolean => {
      const now = next.profiles.get(profile.name);
      return now === undefined || !sameRules(now.rules, profile.rules);
    };
    if (before === next) return 0;
    let cut = hijack.closeSessions(stale);
    for (const request of streams) {
      if (!stale(request.profile)) continue;
      request.raw.socket.destroy();
      cut++;
    }
    return cut;
  });

  // The edge, on every request before anything else: which client is this, and which one profile judges it.
  // Callback hooks, not async ones: every request runs them, and an async hook costs a promise and a microtask.
  app.addHook('onRequest', (request, reply, done) => {
    const edge = resolveClient(current, request.raw);
    if (edge.kind === 'refuse') {
      request.decision = 'refused';
      sendDockerError(reply, upstream, edge.error);
      return; // answered: Fastify goes no further without done()
    }
    request.client = edge.client;
    request.profile = edge.profile.mode === 'audit' ? auditView(edge.profile, () => (request.audit ||= 'would-hide')) : edge.profile;
    done();
  });

  for (const profile of current.profiles.values()) {
    if (!profile.policy.filtering) {
      const what = current.profiles.size === 1 && profile.name === DEFAULT_PROFILE ? 'neither CONTAINER_NAMES nor CONTAINER_LABELS is set' : `profile ${profile.name} sets neither names nor labels`;
      app.log.warn(`${what}: every container is visible`);
    }
  }

  // Bodies stream through untouched, whatever their type and size.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.decorateRequest('decision', '');
  app.decorateRequest('listSummary', null);
  app.decorateRequest('routeKind', '');
  app.decorateRequest('profile', null as unknown as Profile);
  app.decorateRequest('client', '');
  app.decorateRequest('audit', '');

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const target = classifyTarget(request.method, request.raw.url ?? '/');
    request.routeKind = target.kind;
    const admission = admit(request.profile, request.method, target);
    if (admission.kind === 'refuse') {
      request.decision = 'refused';
      sendDockerError(reply, upstream, admission.error);
      return reply;
    }
    if (admission.kind === 'would-refuse') request.audit = 'would-refuse';
    if (longLived(target)) {
      streams.add(request);
      request.raw.once('close', () => streams.delete(request));
    }
    await admission.route(context, target as never, request, reply);
    // Replies are often sent later, from a stream or an upstream callback: tell Fastify to wait for them.
    return reply;
  };
  app.route({ method: app.supportedMethods, url: '*', handler: handle });
  // Targets the router cannot match (absolute-form, say) are classified all the same.
  app.setNotFoundHandler(handle);

  app.addHook('onResponse', (request, reply, done) => {
    const summary = request.listSummary;
    const decision =
      request.audit !== '' ? request.audit : summary === null ? request.decision : `filtered kept ${summary.kept} of ${summary.seen}`;
    // A request refused at the edge has no profile.
    const profile = request.profile?.name ?? 'none';
    if (metrics !== undefined) {
      metrics.observeRequest(request.routeKind || 'none', decision || 'none', profile);
      if (summary !== null) metrics.observeHidden(request.routeKind, summary.seen - summary.kept);
    }
    request.log.info(
      {
        method: request.method,
        path: request.raw.url,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        decision: decision || 'none',
        profile,
        client: request.client || 'none',
      },
      'request',
    );
    done();
  });

  app.addHook('onClose', async () => {
    resolver.close();
    allowlist.close();
    await upstream.close();
  });
};

/** The app as a plugin; not encapsulated, so `app.sieve` is there for whoever registers it. */
export const sieve = fp(sievePlugin, { fastify: '5.x', name: 'docker-sieve' });

declare module 'fastify' {
  interface FastifyInstance {
    sieve: Sieve;
    /** Reads the TLS certificates again (SIGHUP); a no-op without TLS. */
    reloadTls(): void;
    /** Serves the upgrades (and Podman's plain exec starts) of a listener other than the app's own server. */
    attachUpgrades: (server: import('node:http').Server) => void;
    /**
     * Puts a new set of profiles in force at once; requests in flight finish on theirs, but long-lived answers
     * and upgraded sessions of a profile that changed or went away are cut. Returns how many were cut.
     */
    swapProfiles(next: ProfileSet): number;
  }
}

export interface BuildOptions extends SieveOptions {
  /** A pino logger or Fastify logger options; defaults to JSON at the configured level. */
  readonly logger?: boolean | object;
}

function refuseSchemas(): () => never {
  return () => {
    throw new Error('docker-sieve routes declare no schemas');
  };
}

export async function buildApp(options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options;
  const serverOptions = {
    // Slow clients (slowloris) are cut when their headers do not arrive in time.
    headersTimeout: config.timeouts.clientHeadersMs,
    connectionsCheckingInterval: Math.min(1_000, config.timeouts.clientHeadersMs),
  };
  const app = Fastify({
    ...(config.tls === undefined ? { http: serverOptions } : { https: { ...httpsServerOptions(config.tls), ...serverOptions } }),
    // Between requests only: a response in progress, however quiet, is never cut.
    keepAliveTimeout: config.timeouts.clientIdleMs,
    logger: options.logger ?? { level: config.logLevel },
    // One line per request, written by our onResponse hook with the decision in it.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // Long streams (events, logs -f, stats) must not be cut by the server.
    requestTimeout: 0,
    return503OnClosing: false,
    // No route declares a schema: without these, Fastify loads ajv and fast-json-stringify (90 modules, ~3 MB of
    // idle RSS) to compile none.
    schemaController: { compilersFactory: { buildValidator: refuseSchemas, buildSerializer: refuseSchemas } },
  });
  await app.register(sieve, options);
  if (config.tls !== undefined) {
    const reloader = watchTlsFiles(app.server as unknown as HttpsServer, config.tls, app.log as unknown as Logger);
    app.decorate('reloadTls', () => reloader.reload('SIGHUP'));
    app.addHook('onClose', async () => reloader.close());
  } else {
    app.decorate('reloadTls', () => undefined);
  }
  return app;
}
