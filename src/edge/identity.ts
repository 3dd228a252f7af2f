// Who is asking: the facts of one request (its listener, Authorization header, verified client certificate, source
// address) → the profile it gets, 401, or deny. Pure: no Fastify, no I/O; compiled once from the configuration file.
//
// The order, precisely:
//   1. A listener with a `profile` decides alone: every request on it gets that profile. Its Authorization header,
//      certificate and address are not looked at.
//   2. A credential decides next. A present Authorization header must be `Bearer <token>` or `Basic base64(user:token)`
//      (any user; the password is the token), schemes case-insensitive. The token's SHA-256 is compared in constant
//      time with every token client's digest, all of them, with no early exit; the first token client (in file
//      order) whose digest is equal gives its profile. A token that matches no token client, or a header that is
//      neither form, is `unauthorized`: never the default profile, and never a certificate or `from` client, so a
//      wrong or stale token fails loudly instead of quietly falling back to a weaker identity.
//   3. Without an Authorization header, the certificate and `from` clients are tried in file order, first match
//      wins: a certificate client by the verified client certificate's subject CN (exact), a DNS SAN (case-
//      insensitive) or SHA-256 fingerprint (lowercase hex, colons removed); a `from` client by the source address
//      against its addresses and CIDRs (IPv4, IPv6, and IPv4-mapped IPv6 `::ffff:a.b.c.d` as the IPv4 address).
//      Token clients are skipped here: with no token presented they cannot match.
//   4. Otherwise the default: a profile (`client: 'default'`) or `deny`.
// `peerCertificate` must only be given for a certificate the TLS layer verified (socket.authorized): an
// unverified certificate's CN is whatever its maker wrote.
//
// The raw token is never kept: it is hashed at once and only the digest is compared; a Credential's `token` is
// not enumerable, so logging or serialising one does not print it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { parseAllowEntry, plainAddress } from './allow-from.js';
import type { ClientSpec } from '../config/file.js';

export type Credential = { readonly kind: 'token'; readonly token: string } | { readonly kind: 'none' } | { readonly kind: 'malformed' };

export interface PeerCertificateFacts {
  readonly subjectCN?: string;
  readonly dnsSANs: readonly string[];
  /** SHA-256 fingerprint, in any case, with or without colons. */
  readonly sha256: string;
}

export interface IdentityFacts {
  /** The `profile` of the listener the request came in on, if it has one. */
  readonly listenerProfile?: string;
  readonly authorization?: string;
  /** Only a certificate the TLS layer verified. */
  readonly peerCertificate?: PeerCertificateFacts;
  readonly remoteAddress?: string;
}

export type Identity =
  | {
      readonly kind: 'profile';
      readonly profile: string;
      /** For logs and metrics: `listener:<profile>`, `token:<profile>`, `cert:CN=<cn>`, `cert:SAN=<san>`,
       *  `cert:sha256=<first 16 hex>`, `from:<address>` or `default`. Never a secret. */
      readonly client: string;
    }
  | { readonly kind: 'unauthorized' }
  | { readonly kind: 'deny' };

const NONE: Credential = Object.freeze({ kind: 'none' });
const MALFORMED: Credential = Object.freeze({ kind: 'malformed' });
const UNAUTHORIZED: Identity = Object.freeze({ kind: 'unauthorized' });
const DENY: Identity = Object.freeze({ kind: 'deny' });

/** SHA-256 of a token (UTF-8), as a 32-byte Buffer. */
export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function tokenCredential(token: string): Credential {
  const credential = { kind: 'token' } as { kind: 'token'; token: string };
  // Not enumerable: JSON.stringify, pino and util.inspect leave it out.
  Object.defineProperty(credential, 'token', { value: token, enumerable: false });
  return Object.freeze(credential);
}

/**
 * The credential in an Authorization header. undefined: none. `Bearer <token>` or `Basic <base64 of user:token>`
 * (schemes case-insensitive, any user name, the password is the token); anything else present, including an empty
 * header, another scheme, bad base64, no colon or an empty token, is malformed.
 */
export function readCredential(authorization: string | undefined): Credential {
  if (authorization === undefined) return NONE;
  const match = /^([A-Za-z]+)[ \t]+(\S+)$/.exec(authorization.trim());
  if (match === null) return MALFORMED;
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  if (scheme === 'bearer') return tokenCredential(value);
  if (scheme !== 'basic') return MALFORMED;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 === 1) return MALFORMED;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1 || colon === decoded.length - 1) return MALFORMED;
  return tokenCredential(decoded.slice(colon + 1));
}

/** A SHA-256 fingerprint as compared: lowercase hex, colons removed. */
export function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}

/** An address as `from` compares it: IPv4-mapped IPv6 as IPv4, no zone (`%eth0`). undefined: not an IP address. */
function comparableAddress(address: string | undefined): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  if (address === undefined) return undefined;
  const plain = plainAddress(address.replace(/%.*$/, ''));
  const version = isIP(plain);
  if (version === 0) return undefined;
  return { address: plain, family: version === 4 ? 'ipv4' : 'ipv6' };
}

type Rule =
  | { readonly kind: 'certificate'; readonly field: 'cn' | 'san' | 'sha256'; readonly value: string; readonly result: Identity }
  | { readonly kind: 'from'; readonly list: BlockList; readonly profile: string };

/** One `from` list as a BlockList. Throws on a host name or a malformed CIDR (the file parser rejects both). */
function compileFrom(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const item of entries) {
    const entry = parseAllowEntry(item);
    if (entry.kind === 'host') throw new Error(`from: "${item}" is not an IP address or CIDR`);
    if (entry.kind === 'address') list.addAddress(entry.address, entry.family);
    else list.addSubnet(entry.address, entry.prefix!, entry.family);
  }
  return list;
}

/**
 * Compiles the clients (in file order), their token digests (resolveTokens) and the default into `identify`.
 * Throws if a token client has no 32-byte digest: that is a wiring mistake, not a client's.
 */
export function compileIdentity(
  clients: readonly ClientSpec[],
  tokenDigests: ReadonlyMap<ClientSpec, Buffer>,
  defaultProfile: 'deny' | string,
): (facts: IdentityFacts) => Identity {
  const tokens: Array<{ readonly digest: Buffer; readonly result: Identity }> = [];
  const rules: Rule[] = [];
  for (const client of clients) {
    if (client.kind === 'token') {
      const digest = tokenDigests.get(client);
      if (digest === undefined || digest.length !== 32) throw new Error(`${client.where.path}: no SHA-256 digest for this token client`);
      tokens.push({ digest: Buffer.from(digest), result: Object.freeze({ kind: 'profile', profile: client.profile, client: `token:${client.profile}` }) });
    } else if (client.kind === 'certificate') {
      const { field } = client.certificate;
      const value = field === 'sha256' ? normaliseFingerprint(client.certificate.value) : client.certificate.value;
      const label = field === 'cn' ? `cert:CN=${value}` : field === 'san' ? `cert:SAN=${value}` : `cert:sha256=${value.slice(0, 16)}`;
      rules.push({ kind: 'certificate', field, value: field === 'san' ? value.toLowerCase() : value, result: Object.freeze({ kind: 'profile', profile: client.profile, client: label }) });
    } else {
      rules.push({ kind: 'from', list: compileFrom(client.from), profile: client.profile });
    }
  }
  const fallback: Identity = defaultProfile === 'deny' ? DENY : Object.freeze({ kind: 'profile', profile: defaultProfile, client: 'default' });

  function byToken(token: string): Identity {
    const presented = digestToken(token);
    let found = -1;
    for (let i = 0; i < tokens.length; i++) {
      // Every digest is compared, whatever the earlier ones gave.
      const equal = timingSafeEqual(presented, tokens[i]!.digest);
      found = found === -1 && equal ? i : found;
    }
    presented.fill(0);
    return found === -1 ? UNAUTHORIZED : tokens[found]!.result;
  }

  return function identify(facts: IdentityFacts): Identity {
    if (facts.listenerProfile !== undefined) {
      return { kind: 'profile', profile: facts.listenerProfile, client: `listener:${facts.listenerProfile}` };
    }
    const credential = readCredential(facts.authorization);
    if (credential.kind === 'malformed') return UNAUTHORIZED;
    if (credential.kind === 'token') return byToken(credential.token);

    const certificate = facts.peerCertificate;
    const cn = certificate?.subjectCN;
    const sans = certificate?.dnsSANs.map((san) => san.toLowerCase());
    const fingerprint = certificate === undefined ? undefined : normaliseFingerprint(certificate.sha256);
    let address: ReturnType<typeof comparableAddress> | null = null; // null: not worked out yet
    for (const rule of rules) {
      if (rule.kind === 'certificate') {
        if (certificate === undefined) continue;
        const matches = rule.field === 'cn' ? cn === rule.value : rule.field === 'san' ? sans!.includes(rule.value) : fingerprint === rule.value;
        if (matches) return rule.result;
      } else {
        if (address === null) address = comparableAddress(facts.remoteAddress);
        if (address !== undefined && rule.list.check(address.address, address.family)) {
          return { kind: 'profile', profile: rule.profile, client: `from:${address.address}` };
        }
      }
    }
    return fallback;
  };
}

/**
 * PeerCertificateFacts from what node's `tlsSocket.getPeerCertificate()` gives. undefined when there is no
 * certificate (node gives `{}`). A subject with several CNs has none that counts (which one would be meant?).
 */
export function certificateFacts(certificate: {
  readonly subject?: { readonly CN?: string | readonly string[] } | null;
  readonly subjectaltname?: string;
  readonly fingerprint256?: string;
}): PeerCertificateFacts | undefined {
  if (typeof certificate.fingerprint256 !== 'string' || certificate.fingerprint256 === '') return undefined;
  const cn = certificate.subject?.CN;
  const dnsSANs = parseSubjectAltName(certificate.subjectaltname ?? '')
    .filter(([type]) => type === 'DNS')
    .map(([, value]) => value);
  return Object.freeze({ ...(typeof cn === 'string' ? { subjectCN: cn } : {}), dnsSANs: Object.freeze(dnsSANs), sha256: certificate.fingerprint256 });
}

/**
 * Node's `subjectaltname`: `DNS:a.example, IP Address:10.0.0.1, DNS:"b, with a comma"` (a value with special
 * characters is a JSON string). Entries that cannot be read are left out.
 */
export function parseSubjectAltName(text: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let value: string | undefined;
    let next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        value = undefined;
      }
      next = text.indexOf(', ', j + 1);
    } else {
      next = text.indexOf(', ', colon + 1);
      value = text.slice(colon + 1, next === -1 ? undefined : next);
    }
    if (value !== undefined) entries.push([type, value]);
    if (next === -1) break;
    i = next + 2;
  }
  return entries;
}
