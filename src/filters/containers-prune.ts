// POST /containers/prune removes every stopped container, hidden ones included, and says which it removed.
// While filters are active it is refused: there is no way to prune only what the client may see without
// racing the daemon, and a refusal leaks nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sieve } from '../sieve.js';
import type { Target } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { forward, sendDockerError } from '../upstream/forward.js';

export function containersPruneRoute(
  sieve: Sieve,
  target: Extract<Target, { kind: 'containers-prune' }>,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (!request.profile.policy.filtering) {
    request.decision = 'passed';
    forward(reply, sieve.upstream, target.version, target.path, target.query);
    return;
  }
  request.decision = 'refused';
  sendDockerError(
    reply,
    sieve.upstream,
    dockerError(403, 'docker-sieve: container prune is refused while container filters are active, because it would remove hidden containers', target.version),
  );
}
