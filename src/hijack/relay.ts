// The relay of one exchange on an upgraded connection: the request head and its framed body go up, the answer
// comes back byte for byte; after a 101 (or an answer with no length) raw bytes flow both ways, each direction
// closed on its own. Any other answer closes the connection once relayed (see upgrade.ts's header).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Sieve } from '../sieve.js';
import type { ApiVersion } from '../docker/target.js';
import { dockerError } from '../docker/errors.js';
import { answerWith } from './decision.js';
import { parseResponseHead, requestBodyEnd, responseBodyEnd, type BodyEnd } from './framing.js';
import { answer, linger } from './reply.js';

/** The longest upstream answer head (status line and headers) docker-sieve reads before giving up. */
const MAX_RESPONSE_HEAD = 64 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

export interface RelayContext {
  readonly request: IncomingMessage;
  readonly client: Duplex;
  readonly head: Buffer;
  readonly upstream: Socket;
  readonly requestHead: Buffer;
  readonly version: ApiVersion | undefined;
  readonly sieve: Sieve;
  readonly lingerMs: number;
  readonly onFinish: (status: number | undefined, decision: string, extra: Record<string, unknown>) => void;
}

export function relay(context: RelayContext): void {
  const { request, client, head, upstream, version, sieve, lingerMs } = context;
  const method = request.method ?? 'GET';
  // Checked by the caller before it connected.
  const body = requestBodyEnd(request.headers)!;
  /**
   * request: the request is going up, the answer head is awaited; tunnel: raw both ways (after a 101, or an
   * answer that ends with the connection); answer: relaying one framed answer, the client's bytes go nowhere;
   * over: docker-sieve has answered or cut the connection.
   */
  let phase: 'request' | 'tunnel' | 'answer' | 'over' = 'request';
  let status: number | undefined;
  let decision = 'passed';
  let problem: string | undefined;
  let wroteToClient = false;
  let clientEnded = false;
  /** What the client sent after its request, held until the upstream has switched protocols. */
  const held: Buffer[] = [];
  let received: Buffer = EMPTY;
  let responseBody: BodyEnd | undefined;

  const setNoDelay = (socket: Duplex): void => {
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') (socket as Socket).setNoDelay(true);
  };
  setNoDelay(client);
  upstream.setNoDelay(true);

  // The exchange is over, and logged, when the upstream connection is closed and the client has had our
  // last byte (or is gone): a client slow to close its own half does not hold the log line back.
  let upstreamDone = false;
  let clientDone = false;
  let finished = false;
  const maybeFinish = (): void => {
    if (!upstreamDone || !clientDone || finished) return;
    finished = true;
    context.onFinish(status, decision, problem === undefined ? {} : { err: problem });
  };
  client.once('finish', () => {
    clientDone = true;
    maybeFinish();
  });

  function fail(message: string, failStatus = 502, failDecision = 'upstream-error'): void {
    if (phase === 'over') return;
    phase = 'over';
    decision = failDecision;
    problem = message;
    upstream.destroy();
    if (wroteToClient || client.destroyed) {
      client.destroy();
      return;
    }
    status = failStatus;
    answer(client, answerWith(failDecision, dockerError(failStatus, `docker-sieve: ${message}`, version)), sieve, lingerMs);
  }

  function writeToClient(bytes: Buffer): void {
    if (bytes.length === 0) return;
    wroteToClient = true;
    if (!client.write(bytes)) {
      upstream.pause();
      client.once('drain', () => upstream.resume());
    }
  }

  function writeUp(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (!upstream.write(bytes)) {
      client.pause();
      upstream.once('drain', () => {
        if (phase === 'request' && held.length === 0) client.resume();
      });
    }
  }

  function fromClient(chunk: Buffer): void {
    if (phase !== 'request') return;
    let rest = chunk;
    if (!body.done) {
      let n: number;
      try {
        n = body.take(rest);
      } catch (error) {
        fail((error as Error).message, 400, 'refused');
        return;
      }
      writeUp(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
    if (rest.length > 0) {
      // Not part of this request: it goes up only once the upstream has switched protocols.
      held.push(rest);
      client.pause();
    }
  }

  function fromUpstream(chunk: Buffer): void {
    if (phase === 'answer') {
      relayAnswerBody(chunk);
      return;
    }
    if (phase !== 'request') return;
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    for (;;) {
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > MAX_RESPONSE_HEAD) fail('the upstream answer head is too large');
        return;
      }
      const headBytes = received.subarray(0, end + 4);
      const parsed = parseResponseHead(headBytes.toString('latin1'));
      if (parsed === undefined) {
        fail('the upstream answered something that is not HTTP');
        return;
      }
      status = parsed.status;
      if (parsed.status === 101) {
        startTunnel(received);
        return;
      }
      if (parsed.status >= 100 && parsed.status < 200) {
        // Interim (100 Continue): relayed, and the final answer follows.
        writeToClient(headBytes);
        received = received.subarray(end + 4);
        continue;
      }
      const framing = responseBodyEnd(method, parsed);
      if (framing === undefined) {
        fail('the upstream answer has a malformed Content-Length');
        return;
      }
      if (framing === 'close') {
        // No length: the upstream closes after this answer and reads no other request on this connection,
        // so the bytes can flow both ways (the daemon's own answer to an attach without Upgrade is like that).
        startTunnel(received);
        return;
      }
      writeToClient(headBytes);
      phase = 'answer';
      responseBody = framing;
      relayAnswerBody(received.subarray(end + 4));
      return;
    }
  }

  function relayAnswerBody(chunk: Buffer): void {
    const framing = responseBody!;
    let n: number;
    try {
      n = framing.take(chunk);
    } catch (error) {
      fail(`the upstream answer is malformed: ${(error as Error).message}`);
      return;
    }
    writeToClient(chunk.subarray(0, n));
    if (!framing.done) return;
    // One answer, and that is all this connection carries: the client's next request would meet no gate.
    phase = 'over';
    upstream.destroy();
    client.end();
    client.resume();
    linger(client, lingerMs);
  }

  function startTunnel(pending: Buffer): void {
    phase = 'tunnel';
    received = EMPTY;
    upstream.off('data', fromUpstream);
    client.off('data', fromClient);
    client.off('end', onClientEnd);
    // The head exactly as the upstream wrote it, and whatever followed it in the same read. From here on,
    // pipe() minds the backpressure both ways.
    if (pending.length > 0) {
      wroteToClient = true;
      client.write(pending);
    }
    for (const chunk of held) upstream.write(chunk);
    held.length = 0;
    upstream.pipe(client);
    if (clientEnded) upstream.end();
    else client.pipe(upstream);
  }

  function onClientEnd(): void {
    clientEnded = true;
  }

  client.on('close', () => {
    upstream.destroy();
    clientDone = true;
    maybeFinish();
  });
  upstream.on('error', (error) => {
    if (phase === 'request') fail(`upstream connection failed: ${error.message}`);
    else {
      problem ??= error.message;
      client.destroy();
    }
  });
  upstream.on('end', () => {
    if (phase === 'request') fail('the upstream closed the connection before answering');
    else if (phase === 'answer') {
      // The answer was cut short: so is the client's connection, so that it sees it incomplete.
      phase = 'over';
      problem ??= 'the upstream closed the connection in the middle of its answer';
      client.destroy();
    }
  });
  upstream.on('close', () => {
    if (phase === 'tunnel') {
      // Nothing more goes up. The client has (or soon will have) the end of the output: let it close.
      client.unpipe(upstream);
      client.resume();
      if (!client.destroyed) {
        client.end();
        linger(client, lingerMs);
      }
    }
    upstreamDone = true;
    maybeFinish();
  });

  upstream.write(context.requestHead);
  fromClient(head);
  if (phase === 'request') {
    client.on('end', onClientEnd);
    // Starts the flow, unless a held chunk (or backpressure) has paused the client: that pause outlasts it.
    client.on('data', fromClient);
  }
  upstream.on('data', fromUpstream);
}
