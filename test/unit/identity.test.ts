import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashToken, runHashToken } from '../../src/cli/hash-token.js';
import { parseConfigFile, resolveTokens } from '../../src/config/file.js';
import { certificateFacts, compileIdentity, parseSubjectAltName, readCredential, type IdentityFacts } from '../../src/edge/identity.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':');
const FINGERPRINT_HEX = FINGERPRINT.replace(/:/g, '').toLowerCase();

describe('readCredential', () => {
  const cases: Array<[string | undefined, ReturnType<typeof readCredential>['kind'], string?]> = [
    [undefined, 'none'],
    ['Bearer s3cret', 'token', 's3cret'],
    ['bearer s3cret', 'token', 's3cret'],
    ['BEARER   s3cret ', 'token', 's3cret'],
    [basic('homepage', 's3cret'), 'token', 's3cret'],
    [basic('anyone-at-all', 's3cret'), 'token', 's3cret'],
    [basic('', 's3cret'), 'token', 's3cret'],
    [basic('user', 'with:colons'), 'token', 'with:colons'],
    [`basic ${Buffer.from('u:tok').toString('base64')}`, 'token', 'tok'],
    ['', 'malformed'],
    ['Bearer', 'malformed'],
    ['Bearer ', 'malformed'],
    ['Bearer two words', 'malformed'],
    ['Token s3cret', 'malformed'],
    ['Digest username="x"', 'malformed'],
    ['Basic !!!!', 'malformed'],
    [`Basic ${Buffer.from('no-colon').toString('base64')}`, 'malformed'],
    [basic('user', ''), 'malformed'],
    ['s3cret', 'malformed'],
  ];
  it.each(cases)('%j → %s', (header, kind, token) => {
    const credential = readCredential(header);
    expect(credential.kind).toBe(kind);
    if (credential.kind === 'token') expect(credential.token).toBe(token);
  });

  it('does not show the token when logged or serialised', () => {
    const credential = readCredential('Bearer very-secret-token');
    expect(JSON.stringify(credential)).not.toContain('very-secret-token');
    expect(inspect(credential)).not.toContain('very-secret-token');
  });
});

const CONFIG = `
listeners:
  - port: 2376
    tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem }
clients:
  - token_sha256: ${sha('homepage-token')}
    profile: homepage
  - from: [10.0.0.0/8]
    profile: lan
  - certificate: { cn: traefik }
    profile: traefik
  - from: [10.1.0.0/16]
    profile: never
  - token_env: KUMA_TOKEN
    profile: kuma
  - certificate: { san: Watchtower.Local }
    profile: watchtower
  - certificate: { sha256: "${FINGERPRINT}" }
    profile: pinned
  - from: [172.30.0.0/24, "2001:db8::/32", 192.168.1.7]
    profile: kuma
profiles:
  homepage: {}
  lan: {}
  traefik: {}
  never: {}
  kuma: {}
  watchtower: {}
  pinned: {}
  guest: { access: read }
`;

function identifier(defaultProfile?: string) {
  const config = parseConfigFile(CONFIG, 'sieve.yaml');
  const digests = resolveTokens(config.clients, { readFile: () => '', env: { KUMA_TOKEN: 'kuma-token\n' } });
  return compileIdentity(config.clients, digests, defaultProfile ?? config.default);
}

const cert = (overrides: Partial<{ subjectCN: string; dnsSANs: string[]; sha256: string }> = {}) => ({
  dnsSANs: [],
  sha256: 'AA:'.repeat(31) + 'AA',
  ...overrides,
});

describe('compileIdentity: who is asking', () => {
  const identify = identifier();
  const withDefault = identifier('guest');
  const profile = (name: string, client: string) => ({ kind: 'profile', profile: name, client });

  const cases: Array<{ name: string; facts: IdentityFacts; expected: unknown; expectedWithDefault?: unknown }> = [
    {
      name: 'a listener profile wins over everything, a bad token included',
      facts: { listenerProfile: 'homepage', authorization: 'Bearer wrong', remoteAddress: '10.0.0.1' },
      expected: profile('homepage', 'listener:homepage'),
    },
    { name: 'bearer token', facts: { authorization: 'Bearer homepage-token' }, expected: profile('homepage', 'token:homepage') },
    { name: 'basic with any user', facts: { authorization: basic('whoever', 'homepage-token') }, expected: profile('homepage', 'token:homepage') },
    { name: 'a token from a variable, its newline trimmed', facts: { authorization: 'Bearer kuma-token' }, expected: profile('kuma', 'token:kuma') },
    {
      name: 'a token beats earlier from and certificate clients',
      facts: { authorization: 'Bearer kuma-token', remoteAddress: '10.0.0.1', peerCertificate: cert({ subjectCN: 'traefik' }) },
      expected: profile('kuma', 'token:kuma'),
    },
    {
      name: 'a wrong token is unauthorized, never a weaker identity or the default',
      facts: { authorization: 'Bearer homepage-token2', remoteAddress: '10.0.0.1', peerCertificate: cert({ subjectCN: 'traefik' }) },
      expected: { kind: 'unauthorized' },
      expectedWithDefault: { kind: 'unauthorized' },
    },
    { name: 'a token that is only a digest is unauthorized', facts: { authorization: `Bearer ${sha('homepage-token')}` }, expected: { kind: 'unauthorized' } },
    {
      name: 'a malformed header is unauthorized',
      facts: { authorization: 'Negotiate abc', remoteAddress: '10.0.0.1' },
      expected: { kind: 'unauthorized' },
      expectedWithDefault: { kind: 'unauthorized' },
    },
    { name: 'certificate by CN', facts: { peerCertificate: cert({ subjectCN: 'traefik' }) }, expected: profile('traefik', 'cert:CN=traefik') },
    { name: 'CN is exact', facts: { peerCertificate: cert({ subjectCN: 'Traefik' }) }, expected: { kind: 'deny' }, expectedWithDefault: profile('guest', 'default') },
    {
      name: 'certificate by DNS SAN, case-insensitive',
      facts: { peerCertificate: cert({ subjectCN: 'x', dnsSANs: ['other.local', 'watchtower.local'] }) },
      expected: profile('watchtower', 'cert:SAN=Watchtower.Local'),
    },
    {
      name: 'certificate by fingerprint, colons and case normalised',
      facts: { peerCertificate: cert({ sha256: FINGERPRINT_HEX.toUpperCase() }) },
      expected: profile('pinned', `cert:sha256=${FINGERPRINT_HEX.slice(0, 16)}`),
    },
    { name: 'from IPv4 CIDR', facts: { remoteAddress: '172.30.0.9' }, expected: profile('kuma', 'from:172.30.0.9') },
    { name: 'from an IPv4-mapped IPv6 address', facts: { remoteAddress: '::ffff:172.30.0.9' }, expected: profile('kuma', 'from:172.30.0.9') },
    { name: 'from a single address, mapped', facts: { remoteAddress: '::ffff:192.168.1.7' }, expected: profile('kuma', 'from:192.168.1.7') },
    { name: 'from IPv6 CIDR', facts: { remoteAddress: '2001:db8::42' }, expected: profile('kuma', 'from:2001:db8::42') },
    {
      name: 'first match wins among from clients: the wider, earlier one',
      facts: { remoteAddress: '10.1.2.3' },
      expected: profile('lan', 'from:10.1.2.3'),
    },
    {
      name: 'first match wins between from and certificate: from is earlier',
      facts: { remoteAddress: '10.1.2.3', peerCertificate: cert({ subjectCN: 'traefik' }) },
      expected: profile('lan', 'from:10.1.2.3'),
    },
    {
      name: 'first match wins between certificate and from: the certificate is earlier',
      facts: { remoteAddress: '172.30.0.9', peerCertificate: cert({ subjectCN: 'traefik' }) },
      expected: profile('traefik', 'cert:CN=traefik'),
    },
    { name: 'nothing matches: deny, or the default', facts: { remoteAddress: '192.0.2.1' }, expected: { kind: 'deny' }, expectedWithDefault: profile('guest', 'default') },
    { name: 'no facts at all', facts: {}, expected: { kind: 'deny' }, expectedWithDefault: profile('guest', 'default') },
    { name: 'an address that is not an IP', facts: { remoteAddress: 'localhost' }, expected: { kind: 'deny' } },
  ];

  it.each(cases)('$name', ({ facts, expected, expectedWithDefault }) => {
    expect(identify(facts)).toEqual(expected);
    const fallback = (expected as { kind: string }).kind === 'deny' ? profile('guest', 'default') : expected;
    expect(withDefault(facts)).toEqual(expectedWithDefault ?? fallback);
  });

  it('refuses a token client without its digest', () => {
    const config = parseConfigFile(CONFIG, 'sieve.yaml');
    expect(() => compileIdentity(config.clients, new Map(), 'deny')).toThrow('clients[0]: no SHA-256 digest for this token client');
  });

  it('with no token clients, any token is unauthorized', () => {
    const config = parseConfigFile('clients: [{ from: [0.0.0.0/0], profile: a }]\ndefault: a\nprofiles: { a: {} }\n', 's.yaml');
    const identifyOpen = compileIdentity(config.clients, new Map(), config.default);
    expect(identifyOpen({ authorization: 'Bearer x', remoteAddress: '10.0.0.1' })).toEqual({ kind: 'unauthorized' });
    expect(identifyOpen({ remoteAddress: '10.0.0.1' })).toEqual(profile('a', 'from:10.0.0.1'));
  });

  it('never gives a profile for a token that is not configured (property)', () => {
    const configured = new Set(['homepage-token', 'kuma-token']);
    const header = fc.oneof(
      fc.string().map((token) => `Bearer ${token}`),
      fc.string({ unit: 'binary' }).map((token) => `bearer ${token}`),
      fc.constantFrom('homepage-token', 'kuma-token').chain((token) => fc.string({ minLength: 1 }).map((extra) => `Bearer ${token}${extra}`)),
      fc.tuple(fc.string(), fc.string()).map(([user, token]) => basic(user.replace(/:/g, ''), token)),
      fc.string(),
    );
    const facts = fc.record({
      authorization: header,
      remoteAddress: fc.constantFrom('10.0.0.1', '::ffff:172.30.0.9', '192.0.2.1'),
      peerCertificate: fc.option(fc.constant(cert({ subjectCN: 'traefik' })), { nil: undefined }),
    });
    fc.assert(
      fc.property(facts, (sample) => {
        const credential = readCredential(sample.authorization);
        fc.pre(!(credential.kind === 'token' && configured.has(credential.token)));
        expect(identify(sample)).toEqual({ kind: 'unauthorized' });
        expect(withDefault(sample)).toEqual({ kind: 'unauthorized' });
      }),
      { numRuns: 500 },
    );
  });
});

describe('certificateFacts', () => {
  it('reads what getPeerCertificate gives', () => {
    expect(
      certificateFacts({
        subject: { CN: 'traefik' },
        subjectaltname: 'DNS:traefik.local, IP Address:10.0.0.1, DNS:"odd, name", email:a@b',
        fingerprint256: FINGERPRINT,
      }),
    ).toEqual({ subjectCN: 'traefik', dnsSANs: ['traefik.local', 'odd, name'], sha256: FINGERPRINT });
  });

  it('has no CN for a subject with several, and nothing for no certificate', () => {
    expect(certificateFacts({ subject: { CN: ['a', 'b'] }, fingerprint256: FINGERPRINT })).toEqual({ dnsSANs: [], sha256: FINGERPRINT });
    expect(certificateFacts({})).toBeUndefined();
  });

  it('parses subjectaltname entries', () => {
    expect(parseSubjectAltName('')).toEqual([]);
    expect(parseSubjectAltName('DNS:a, IP Address:FE80:0:0:0:0:0:0:1, URI:"spiffe://x\\u002c y"')).toEqual([
      ['DNS', 'a'],
      ['IP Address', 'FE80:0:0:0:0:0:0:1'],
      ['URI', 'spiffe://x, y'],
    ]);
  });
});

describe('hash-token', () => {
  it.each([
    ['s3cret', sha('s3cret')],
    ['s3cret\n', sha('s3cret')],
    ['s3cret\r\n', sha('s3cret')],
    ['s3 cret \n', sha('s3 cret')],
  ])('hashToken(%j)', (input, digest) => {
    expect(hashToken(input)).toBe(digest);
  });

  it('refuses no token', () => {
    expect(() => hashToken('\n')).toThrow('no token');
  });

  it('gives what a token_sha256 client needs to match the token', () => {
    const digest = hashToken('homepage-token\n');
    const config = parseConfigFile(`clients: [{ token_sha256: ${digest}, profile: a }]\nprofiles: { a: {} }\n`, 's.yaml');
    const identify = compileIdentity(config.clients, resolveTokens(config.clients, { readFile: () => '', env: {} }), 'deny');
    expect(identify({ authorization: 'Bearer homepage-token' })).toEqual({ kind: 'profile', profile: 'a', client: 'token:a' });
  });

  it('reads all of stdin and writes the digest', async () => {
    const out: string[] = [];
    const errors: string[] = [];
    expect(await runHashToken(Readable.from([Buffer.from('s3'), 'cret\n']), (text) => out.push(text), (text) => errors.push(text))).toBe(0);
    expect(out).toEqual([`${sha('s3cret')}\n`]);
    expect(await runHashToken(Readable.from([]), (text) => out.push(text), (text) => errors.push(text))).toBe(1);
    expect(errors).toEqual(['docker-sieve hash-token: no token on standard input\n']);
    expect(out).toHaveLength(1);
  });
});
