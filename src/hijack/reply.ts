// docker-sieve's own answer on a socket that Node no longer speaks HTTP on (after an 'upgrade' event).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Sieve } from '../sieve.js';
import type { Answer } from './decision.js';

/** `api-version` → `Api-Version`, as Go writes header names. */
function canonicalHeaderName(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}

/** docker-sieve's own answer on a socket Node no longer speaks HTTP on: written by hand, then the connection closes. */
export function answer(client: Duplex, plan: Answer, sieve: Sieve, lingerMs: number): void {
  const lines = [`HTTP/1.1 ${plan.status} ${STATUS_CODES[plan.status] ?? 'Unknown'}`];
  for (const [name, value] of Object.entries(sieve.upstream.daemonHeaders())) lines.push(`${canonicalHeaderName(name)}: ${value}`);
  if (plan.contentType !== undefined) lines.push(`Content-Type: ${plan.contentType}`);
  lines.push(`Content-Length: ${plan.body.length}`, 'Connection: close', '', '');
  client.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), plan.body]));
  // Read and drop what the client still sends (a request body): closing with unread data would reset the
  // connection, and the client might lose the answer.
  client.resume();
  linger(client, lingerMs);
}

/** A client that does not close its half after our last word is cut after `ms`. */
export function linger(socket: Duplex, ms: number): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
