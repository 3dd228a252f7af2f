// A daemon's error answer to a judged request may name other containers by their full ID, hidden ones included.
// Measured: dockerd 20.10 answers `create?name=` and `rename?name=` with a name that a hidden container holds
// with 409 `... already in use by container "<its ID>"`; Podman 4.3 answers a create the same way (500), and
// a forced removal of a visible container that a hidden one depends on with `has dependent containers which must
// be removed before it: <the hidden one's ID>`. That the name is taken, or that something depends on the
// container, cannot be hidden from a client allowed to try; which container it is, can. So every full ID in
// such an answer is judged, and one this profile may not see is written as HIDDEN_ID_MARK. The answer stays
// the daemon's otherwise, so the client's tools read it as they would.
import type { FastifyReply } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Api, ApiVersion } from '../docker/target.js';
import { readBody, sendNamingRefs, sendUpstreamStream, type UpstreamResponse } from '../upstream/forward.js';
import { sendLookupFailure } from '../upstream/lookup.js';

/** Error answers are a few hundred bytes; one larger than this is not what a daemon sends, and is refused. */
export const MAX_ERROR_ANSWER = 1024 * 1024;

/** What a hidden container's ID becomes in an error answer. */
export const HIDDEN_ID_MARK = '(a container hidden by docker-sieve)';

const FULL_ID = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g;

/** Every distinct full ID (64 lowercase hex digits, not inside a longer run) in `text`, in order. Pure. */
export function fullIdsIn(text: string): string[] {
  return [...new Set(text.match(FULL_ID) ?? [])];
}

/**
 * The answer to send: a success streams on untouched; an error is read whole, told about the client's refs
 * (`refsByForwarded`: what was forwarded → the client's ref), and every full ID in it not in `visible` is judged: a container this
 * profile may not see is written as HIDDEN_ID_MARK. An ID the daemon does not have as a container (an image's,
 * a network's) stays. A failed lookup fails closed (502), as in the gates.
 */
export async function sendJudgedAnswer(
  sieve: Sieve,
  reply: FastifyReply,
  response: UpstreamResponse,
  context: {
    readonly api: Api;
    readonly version: ApiVersion | undefined;
    /** Containers judged visible for this request: their IDs need no lookup. */
    readonly visible: ReadonlySet<string>;
    readonly refsByForwarded?: ReadonlyMap<string, string>;
  },
): Promise<void> {
  if (response.statusCode < 400) {
    sendUpstreamStream(reply, response);
    return;
  }
  const body = await readBody(response.stream, MAX_ERROR_ANSWER);
  // What to write instead: the client's refs for what was forwarded, and the mark for each hidden container.
  const rewrites = new Map(context.refsByForwarded);
  let hidden = false;
  for (const id of fullIdsIn(body.toString('utf8'))) {
    if (context.visible.has(id)) continue;
    let resolution;
    try {
      resolution = await sieve.resolver.resolveContainerRef(id, context.api);
    } catch (error) {
      reply.removeHeader('content-length');
      sendLookupFailure(reply, sieve.upstream, error as Error, context.version);
      return;
    }
    if (resolution.kind === 'found' && resolution.container.id === id && !reply.request.profile.policy.visibleContainer(resolution.container)) {
      rewrites.set(id, HIDDEN_ID_MARK);
      hidden = true;
    }
  }
  if (hidden) reply.request.decision = 'hidden';
  sendNamingRefs(reply, body, rewrites);
}
