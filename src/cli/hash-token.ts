// `docker-sieve hash-token`: reads a token on standard input and prints its SHA-256 in hex, for `token_sha256:` in
// the configuration file, so the file need not hold the token itself:
//   printf %s "$TOKEN" | docker-sieve hash-token       (or: docker-sieve hash-token < /run/secrets/token)
// Trailing whitespace (the newline of `echo` or of a file) is not part of the token, as for token_file.
import { tokenFromText } from '../config/file.js';
import { digestToken } from '../edge/identity.js';

export class EmptyTokenError extends Error {
  constructor() {
    super('hash-token: no token on standard input');
    this.name = 'EmptyTokenError';
  }
}

/** The token's SHA-256 in lowercase hex, after trailing whitespace is removed. Throws EmptyTokenError on nothing. */
export function hashToken(input: string): string {
  const token = tokenFromText(input);
  if (token === '') throw new EmptyTokenError();
  return digestToken(token).toString('hex');
}

/**
 * Reads all of `stdin`, writes the hex digest and a newline. Returns the exit code: 0, or 1 with a message to
 * `writeError` when standard input holds no token.
 */
export async function runHashToken(
  stdin: AsyncIterable<string | Uint8Array>,
  write: (text: string) => void,
  writeError: (text: string) => void = (text) => void process.stderr.write(text),
): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    write(`${hashToken(text)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof EmptyTokenError)) throw error;
    writeError(`docker-sieve ${error.message}\n`);
    return 1;
  }
}
