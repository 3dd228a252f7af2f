// Docker-shaped error replies. Go clients read `message` only when Content-Type is exactly
// application/json; API 1.23 and below answered errors in plain text, so we do too.
import { errorsArePlainText, type ApiVersion } from './target.js';

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

export function noSuchContainer(ref: string, version: ApiVersion | undefined): DockerErrorReply {
  return dockerError(404, `No such container: ${ref}`, version);
}

export function noSuchExec(id: string, version: ApiVersion | undefined): DockerErrorReply {
  return dockerError(404, `No such exec instance: ${id}`, version);
}

/** ALLOW_FROM's refusal, for HTTP requests and upgrades alike. */
export function notAllowedClient(): DockerErrorReply {
  return dockerError(403, 'docker-sieve: this client is not in ALLOW_FROM', undefined);
}
