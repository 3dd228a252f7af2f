// Docker-shaped error replies. Go clients read `message` only when Content-Type is exactly
// application/json; API 1.23 and below answered errors in plain text, so we do too.
import { errorsArePlainText, type Api, type ApiVersion } from './target.js';

export interface DockerErrorReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export function dockerError(status: number, message: string, version: ApiVersion | undefined): DockerErrorReply {
  if (errorsArePlainText(version)) {
    return { status, contentType: 'text/plain; charset=utf-8', body: `${message}\n` };
  }
  return { status, contentType: 'application/json', body: `${JSON.stringify({ message })}\n` };
}

export function noSuchContainer(ref: string, version: ApiVersion | undefined, api: Api = 'docker'): DockerErrorReply {
  if (api === 'libpod') return libpodError(404, 'no such container', `no container with name or ID "${ref}" found: no such container`);
  return dockerError(404, `No such container: ${ref}`, version);
}

/** Podman's own answer to `exists` of a container it does not have: a hidden one gets the same. */
export function libpodContainerDoesNotExist(): DockerErrorReply {
  return libpodError(404, 'no such container', 'no such container');
}

export function noSuchPod(ref: string): DockerErrorReply {
  return libpodError(404, 'no such pod', `no pod with name or ID ${ref} found: no such pod`);
}

/** Podman's error body: `{"cause", "message", "response"}`. */
export function libpodError(status: number, cause: string, message: string): DockerErrorReply {
  return { status, contentType: 'application/json', body: `${JSON.stringify({ cause, message, response: status })}\n` };
}

export function noSuchExec(id: string, version: ApiVersion | undefined, api: Api = 'docker'): DockerErrorReply {
  if (api === 'libpod') return libpodError(404, 'no such exec session', `no exec session with ID ${id} found: no such exec session`);
  return dockerError(404, `No such exec instance: ${id}`, version);
}

/** ALLOW_FROM's refusal, for HTTP requests and upgrades alike. */
export function notAllowedClient(): DockerErrorReply {
  return dockerError(403, 'docker-sieve: this client is not in ALLOW_FROM', undefined);
}

/**
 * A daemon's error answer about what docker-sieve forwarded (a full ID, or a name no container has), told about
 * the refs the client sent instead: each key of `refsByForwarded` written as its value. Pure.
 */
export function backToRefs(body: string, refsByForwarded: ReadonlyMap<string, string>): string {
  let out = body;
  for (const [forwarded, ref] of refsByForwarded) out = out.replaceAll(forwarded, ref);
  return out;
}
