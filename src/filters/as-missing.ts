// A hidden container is answered exactly as a missing one. Podman words "missing" differently on every route
// (`generating YAML: name or ID "x" not found`, `looking up container to share pid namespace with: ...`), so for
// its native API docker-sieve asks the daemon the same request about a name no container can have, and puts
// the client's ref back into the answer. The daemon is told nothing about the hidden container, and the client
// cannot tell it from a missing one by the wording.
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { ApiVersion } from '../docker/target.js';
import { noSuchContainer } from '../docker/errors.js';
import { forward, readBody, sendDockerError, sendNamingRefs } from '../upstream/forward.js';

const MAX_ANSWER = 1024 * 1024;

/** A container name that cannot exist: Podman's names are user-given, and nobody gives this one. */
export function unusedName(): string {
  return `docker-sieve-no-such-container-${randomBytes(12).toString('hex')}`;
}

export interface AsMissing {
  /** The client's ref, put back where the daemon wrote `placeholder`. */
  readonly ref: string;
  readonly placeholder: string;
  /** The request body with the ref replaced, for routes that carry one. */
  readonly body?: Buffer;
}

export function forwardAsMissing(reply: FastifyReply, sieve: Sieve, version: ApiVersion | undefined, path: string, query: string, missing: AsMissing): void {
  reply.request.decision = 'hidden';
  forward(reply, sieve.upstream, version, path, query, {
    ...(missing.body === undefined ? {} : { body: missing.body, contentType: reply.request.headers['content-type'] ?? 'application/json' }),
    onResponse: async (reply, response) => {
      const body = await readBody(response.stream, MAX_ANSWER);
      if (response.statusCode < 300) {
        // Something answered to the unused name after all: say nothing of it, and nothing of the hidden one.
        reply.removeHeader('content-length');
        sendDockerError(reply, sieve.upstream, noSuchContainer(missing.ref, version, 'libpod'));
        return;
      }
      sendNamingRefs(reply, body, new Map([[missing.placeholder, missing.ref]]));
    },
  });
}

/**
 * A JSON body with every string that is the ref, or starts with it and a colon (`ref:ro` of volumes_from), naming
 * the placeholder instead. Strings are matched as JSON writes them, so a ref never matches inside another word.
 */
export function bodyNaming(body: Buffer, ref: string, placeholder: string): Buffer {
  const quoted = JSON.stringify(ref).slice(0, -1); // `"ref` without its closing quote
  const text = body.toString('utf8').replaceAll(`${quoted}"`, `"${placeholder}"`).replaceAll(`${quoted}:`, `"${placeholder}:`);
  return Buffer.from(text, 'utf8');
}

/** A query with every value that is the ref naming the placeholder instead; keys as they came. */
export function queryNaming(query: string, ref: string, placeholder: string): string {
  return query
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at === -1) return pair;
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
      } catch {
        return pair;
      }
      return value === ref ? `${pair.slice(0, at + 1)}${encodeURIComponent(placeholder)}` : pair;
    })
    .join('&');
}
