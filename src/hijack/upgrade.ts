// The HTTP upgrade of exec and attach: `docker exec`, `docker attach`, dockerode's `hijack: true`, attach over a
// websocket. Node hands a request with `Connection: Upgrade` to the server's 'upgrade' listener with the raw
// socket; Fastify never sees it (no route, no hooks). So the request is judged here like its HTTP route, with
// the same resolver and exec gate, and only then relayed on a connection of its own to the upstream:
//
//   client ── request head (path := judged full ID, Host := upstream) + body ──► upstream
//   client ◄── the upstream's answer, byte for byte (the 101 exactly as the daemon wrote it) ── upstream
//   then, after a 101, raw bytes both ways, each direction closed on its own (stdin EOF still gets the output).
//
// The relay understands just enough HTTP to stay a relay of one exchange. The request body (exec start's
// `{"Detach":false,"Tty":false}`) is forwarded as bytes, but framed by its Content-Length or chunked encoding,
// and anything the client sends after it is held back until the upstream has answered. Only a 101 (or an answer
// without length, after which the upstream cannot read another request) lets those bytes through. Any other
// answer (a 404 because the exec went away, a 200 to a detached exec start, a socket proxy's 403) is relayed
// and then the connection is closed: a raw tunnel left open on a keep-alive connection would let the client's
// next request reach the upstream without any gate.
//
// This module is the edge of an upgrade: the 'upgrade' listener, the same edge checks and admission as the HTTP
// routes, and the sessions a reload may cut. The decision is in decision.ts, HTTP framing in framing.ts, the
// relay of bytes in relay.ts.
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Sieve } from '../sieve.js';
import { classifyTarget } from '../docker/target.js';
import { dockerError, notAllowedClient } from '../docker/errors.js';
import type { Profile } from '../policy/profile.js';
import { auditView } from '../policy/profile.js';
import { admit } from '../routes.js';
import { allowedSource, resolveClient } from '../edge/client.js';
import { connectRawUpstream, readUpstreamTls, upstreamHostHeader, type RawConnectOptions } from '../upstream/upstream.js';
import { answerWith, judge, type Plan } from './decision.js';
import { requestBodyEnd, requestHead } from './framing.js';
import { createPlainStarts, interceptPlainExecStarts, withoutAddedHeaders } from './plain-start.js';
import { relay } from './relay.js';
import { answer } from './reply.js';

export interface HijackOptions {
  /** Connecting to the upstream; a client waits at most this long for its 502. Default: UPSTREAM_CONNECT_TIMEOUT. */
  readonly connectTimeoutMs?: number;
  /** TLS material for an https upstream (a CA, a client certificate). Default: read from PROXY_CA/CERT/KEY. */
  readonly upstreamTls?: RawConnectOptions['tls'];
  /** After docker-sieve has said its last word, how long a client may keep its half of the connection open. */
  readonly lingerMs?: number;
}

export interface Hijack {
  /** The server's 'upgrade' listener. */
  readonly onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Serves the upgrades of `server`, and Podman's plain exec starts as upgrades (plain-start.ts). Call it before
   * the server listens.
   */
  attach(server: Server): void;
  /**
   * Refuses new upgrades, and cuts those in progress after `graceMs`: the server cannot finish closing while
   * they are open (they are no longer its HTTP connections, so closeAllConnections() does not reach them).
   */
  close(graceMs?: number): void;
  /** Cuts the sessions (the client and its tunnel) whose profile `stale` says has changed: a reload. */
  closeSessions(stale: (profile: Profile) => boolean): number;
}

export function createHijack(sieve: Sieve, log: FastifyBaseLogger, options: HijackOptions = {}): Hijack {
  const connectTimeoutMs = options.connectTimeoutMs ?? sieve.config.timeouts.upstreamConnectMs;
  const upstreamTls = options.upstreamTls ?? readUpstreamTls(sieve.config.upstreamTls);
  const lingerMs = options.lingerMs ?? 5_000;
  const live = new Set<Duplex>();
  const plainStarts = createPlainStarts();
  /** The client side of each session, with the profile it was judged by. */
  const sessions = new Map<Duplex, Profile>();
  let closed = false;

  function track(socket: Duplex): void {
    live.add(socket);
    socket.once('close', () => live.delete(socket));
  }

  function onUpgrade(request: IncomingMessage, client: Duplex, head: Buffer): void {
    // Node took its own listeners off the socket: without this, a reset by the client would crash the process.
    client.on('error', () => client.destroy());
    // `docker exec -i` closes its sending half at stdin's EOF and still reads the output. Plain HTTP sockets
    // allow that already; those of an HTTPS server do not, unless told.
    client.allowHalfOpen = true;
    track(client);
    if (closed) {
      answer(client, answerWith('refused', dockerError(503, 'docker-sieve: shutting down', undefined)), sieve, lingerMs);
      log.info({ method: request.method, path: request.url, upgrade: request.headers.upgrade, status: 503, decision: 'refused' }, 'request');
      return;
    }
    handle(request, client, head).catch((error: Error) => {
      log.error({ err: error.message, method: request.method, path: request.url }, 'upgrade failed');
      client.destroy();
    });
  }

  async function handle(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const url = request.url ?? '/';
    const target = classifyTarget(method, url);
    // A plain exec start made an upgrade here: the client asked for no upgrade, and the log says what it sent.
    const plain = plainStarts.take(request.socket as Socket);
    const upgradeHeader = plain ? undefined : request.headers.upgrade;
    let profile: Profile | undefined;
    let clientName = 'none';
    let audit = '';
    const logLine = (status: number | undefined, decision: string, extra: Record<string, unknown> = {}): void => {
      const logged = audit !== '' && decision !== 'upstream-error' ? audit : decision;
      sieve.metrics?.observeRequest(target.kind, logged, profile?.name ?? 'none');
      log.info(
        {
          method,
          path: url,
          upgrade: upgradeHeader,
          ...(plain ? { plainExecStart: true } : {}),
          status,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          decision: logged,
          profile: profile?.name ?? 'none',
          client: clientName,
          ...extra,
        },
        'request',
      );
    };

    let plan: Plan;
    // ALLOW_FROM and the edge are onRequest hooks, which an upgrade never reaches: the same checks, here.
    const edge = resolveClient(sieve.current(), request);
    if (!allowedSource(sieve.allowlist, request.socket as Socket)) {
      log.warn({ client: request.socket.remoteAddress }, 'client not in ALLOW_FROM');
      plan = answerWith('refused', notAllowedClient());
    } else if (edge.kind === 'refuse') {
      plan = answerWith('refused', edge.error);
    } else {
      clientName = edge.client;
      sessions.set(client, edge.profile);
      client.once('close', () => sessions.delete(client));
      profile = edge.profile.mode === 'audit' ? auditView(edge.profile, () => (audit ||= 'would-hide')) : edge.profile;
      const admission = admit(profile, method, target);
      if (admission.kind === 'refuse') plan = answerWith('refused', admission.error);
      else {
        if (admission.kind === 'would-refuse') audit = 'would-refuse';
        plan = await judge(sieve, profile, target);
      }
    }
    if (plan.kind === 'relay' && requestBodyEnd(request.headers) === undefined) {
      plan = answerWith('refused', dockerError(400, 'docker-sieve: unsupported request framing', target.version));
    }
    if (client.destroyed) {
      logLine(undefined, plan.kind === 'answer' ? plan.decision : 'passed', { clientClosed: true });
      return;
    }
    if (plan.kind === 'answer') {
      answer(client, plan, sieve, lingerMs);
      logLine(plan.status, plan.decision);
      return;
    }

    let upstream: Socket;
    try {
      upstream = await connectRawUpstream(sieve.config.upstream, { timeoutMs: connectTimeoutMs, tls: upstreamTls });
    } catch (error) {
      const message = (error as Error).message;
      log.warn({ err: message }, 'upstream connection failed');
      if (!client.destroyed) {
        answer(client, answerWith('upstream-error', dockerError(502, `docker-sieve: upstream unavailable: ${message}`, target.version)), sieve, lingerMs);
      }
      logLine(502, 'upstream-error');
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      logLine(undefined, 'passed', { clientClosed: true });
      return;
    }
    track(upstream);
    const pathWithQuery = sieve.upstream.pathPrefix + plan.path + (target.query === '' ? '' : `?${target.query}`);
    relay({
      request,
      client,
      head,
      upstream,
      requestHead: requestHead(request, pathWithQuery, upstreamHostHeader(sieve.config.upstream), plain ? withoutAddedHeaders(request.rawHeaders) : request.rawHeaders),
      version: target.version,
      sieve,
      lingerMs,
      onFinish: (status, decision, extra) => logLine(status, decision, extra),
    });
  }

  return {
    onUpgrade,
    attach(server) {
      interceptPlainExecStarts(server, sieve.config.timeouts.clientHeadersMs, plainStarts);
      server.on('upgrade', onUpgrade);
    },
    closeSessions(stale) {
      let cut = 0;
      for (const [client, profile] of sessions) {
        if (!stale(profile)) continue;
        client.destroy();
        cut++;
      }
      return cut;
    },
    close(graceMs = 0) {
      closed = true;
      // Connections that have not sent a request line yet have nothing to finish.
      for (const socket of plainStarts.waiting) socket.destroy();
      const cut = (): void => {
        for (const socket of live) socket.destroy();
        live.clear();
      };
      if (graceMs <= 0) cut();
      else setTimeout(cut, graceMs).unref();
    },
  };
}
