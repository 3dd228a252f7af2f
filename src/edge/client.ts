// The edge: who is this client, and which one profile judges its request. The same answer for HTTP requests
// (an onRequest hook) and upgrades (the hijack relay), before anything else is looked at.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Profile } from '../policy/profile.js';
import type { ProfileSet } from '../policy/profiles.js';
import { dockerError, type DockerErrorReply } from '../docker/errors.js';
import { certificateFacts } from './identity.js';

/** What a listener says about its clients. */
export interface ListenerInfo {
  /** Every request on this listener gets this profile. */
  readonly profile: string | undefined;
  /** A unix socket: who may connect is who may open the file, and there is no source address to check. */
  readonly unix: boolean;
}

const listeners = new WeakMap<object, ListenerInfo>();

/** Marks a connection with the listener it came in on (called on 'connection' and 'secureConnection'). */
export function tagConnection(socket: Socket, info: ListenerInfo): void {
  listeners.set(socket, info);
}

/** ALLOW_FROM is about source addresses: it applies to TCP listeners, not to a unix socket's clients. */
export function allowedSource(allowlist: { readonly active: boolean; allows(address: string | undefined): boolean }, socket: Socket): boolean {
  return !allowlist.active || listeners.get(socket)?.unix === true || allowlist.allows(socket.remoteAddress);
}

export type EdgeResult =
  | { readonly kind: 'client'; readonly profile: Profile; readonly client: string }
  | { readonly kind: 'refuse'; readonly error: DockerErrorReply };

const UNAUTHORIZED = dockerError(401, 'docker-sieve: the credential presented matches no client', undefined);
const DENIED = dockerError(403, 'docker-sieve: this client matches no configured client, and the default is deny', undefined);

export function resolveClient(set: ProfileSet, request: IncomingMessage): EdgeResult {
  const socket = request.socket as Socket & Partial<TLSSocket>;
  const tls = socket.authorized === true && typeof socket.getPeerCertificate === 'function';
  const identity = set.identify({
    listenerProfile: listeners.get(socket)?.profile,
    authorization: request.headers.authorization,
    // Only a certificate the TLS layer verified against the listener's CA: any other CN is whatever its maker wrote.
    peerCertificate: tls ? certificateFacts(socket.getPeerCertificate!()) : undefined,
    remoteAddress: socket.remoteAddress,
  });
  if (identity.kind === 'unauthorized') return { kind: 'refuse', error: UNAUTHORIZED };
  if (identity.kind === 'deny') return { kind: 'refuse', error: DENIED };
  // With tokens in use an Authorization header is docker-sieve's: it never goes upstream, and is never logged.
  if (set.usesTokens && request.headers.authorization !== undefined) dropAuthorization(request);
  return { kind: 'client', profile: set.profiles.get(identity.profile)!, client: identity.client };
}

function dropAuthorization(request: IncomingMessage): void {
  delete request.headers.authorization;
  const raw = request.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i]!.toLowerCase() === 'authorization') raw.splice(i, 2);
  }
}
