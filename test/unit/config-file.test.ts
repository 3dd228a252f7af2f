import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACTIONS,
  ConfigFileError,
  editDistance,
  loadConfigFile,
  nearest,
  parseConfigFile,
  resolveTokens,
  type ConfigFile,
  type TokenSources,
} from '../../src/config/file.js';

const FIXTURES = join(import.meta.dirname, 'fixtures-config');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

/** The formatted lines of the error parseConfigFile throws, or [] if it parses. */
function errorsOf(text: string): string[] {
  try {
    parseConfigFile(text, 'sieve.yaml');
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    expect(error.message).toBe(error.errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`).join('\n'));
    return error.message.split('\n');
  }
  return [];
}

const lines = (...parts: string[]): string => `${parts.join('\n')}\n`;
const ALL_ACTIONS = ACTIONS.join(', ');

describe('parseConfigFile: errors name file, line, column and key path', () => {
  const cases: Array<{ name: string; text: string; errors: string[] }> = [
    {
      name: 'unknown key, with the nearest known key as a hint',
      text: lines('profiles:', '  homepage:', '    acess: read'),
      errors: ['sieve.yaml:3:5: profiles.homepage.acess: unknown key; did you mean "access"?'],
    },
    {
      name: 'unknown key, with a transposition as a hint',
      text: lines('profiles:', '  a:', '    lables: [x]'),
      errors: ['sieve.yaml:3:5: profiles.a.lables: unknown key; did you mean "labels"?'],
    },
    {
      name: 'unknown key far from every known key: no hint',
      text: lines('profiles:', '  a:', '    colour: red'),
      errors: ['sieve.yaml:3:5: profiles.a.colour: unknown key'],
    },
    {
      name: 'unknown top-level key, and the required profiles missing',
      text: lines('profile:', '  a: {}'),
      errors: ['sieve.yaml:1:1: "profiles" is required', 'sieve.yaml:1:1: profile: unknown key; did you mean "profiles"?'],
    },
    {
      name: 'wrong type: a YAML 1.1 boolean is a string',
      text: lines('profiles:', '  a:', '    scrub_envs: yes'),
      errors: ['sieve.yaml:3:17: profiles.a.scrub_envs: must be true or false, not "yes"'],
    },
    {
      name: 'wrong type: a number where a string is wanted, with a hint to quote it',
      text: lines('profiles:', '  a: { names: [42] }'),
      errors: ['sieve.yaml:2:16: profiles.a.names[0]: must be a string, not 42 (quote it: "42")'],
    },
    {
      name: 'wrong type: a scalar where a list is wanted',
      text: lines('profiles:', '  a: { labels: traefik.enable }'),
      errors: ['sieve.yaml:2:16: profiles.a.labels: must be a list, not "traefik.enable"'],
    },
    {
      name: 'wrong type: an empty profile',
      text: lines('profiles:', '  a:', '  b: {}'),
      errors: ['sieve.yaml:2:3: profiles.a: must be a mapping, not empty'],
    },
    {
      name: 'bad enum for access',
      text: lines('profiles:', '  a: { access: rad }'),
      errors: ['sieve.yaml:2:16: profiles.a.access: "rad" is not one of all, read; did you mean "read"?'],
    },
    {
      name: 'access of the wrong type',
      text: lines('profiles:', '  a: { access: [start] }'),
      errors: ['sieve.yaml:2:16: profiles.a.access: must be a string or a mapping, not a list'],
    },
    {
      name: 'bad enum for mode',
      text: lines('profiles:', '  a: { mode: audt }'),
      errors: ['sieve.yaml:2:14: profiles.a.mode: "audt" is not one of enforce, audit; did you mean "audit"?'],
    },
    {
      name: 'bad action name',
      text: lines('profiles:', '  a:', '    access: { actions: [start, exe] }'),
      errors: [`sieve.yaml:3:32: profiles.a.access.actions[1]: "exe" is not one of ${ALL_ACTIONS}; did you mean "exec"?`],
    },
    {
      name: 'access mapping without actions',
      text: lines('profiles:', '  a:', '    access: { action: [start] }'),
      errors: [
        'sieve.yaml:3:13: profiles.a.access: "actions" is required',
        'sieve.yaml:3:15: profiles.a.access.action: unknown key; did you mean "actions"?',
      ],
    },
    {
      name: 'empty actions',
      text: lines('profiles:', '  a: { access: { actions: [] } }'),
      errors: ['sieve.yaml:2:27: profiles.a.access.actions: must not be empty (use access: read for no actions)'],
    },
    {
      name: 'missing profile reference from a client (with a hint)',
      text: lines('clients:', '  - from: [10.0.0.0/8]', '    profile: kumaa', 'profiles:', '  kuma: {}'),
      errors: ['sieve.yaml:3:14: clients[0].profile: no profile "kumaa"; did you mean "kuma"?'],
    },
    {
      name: 'missing profile reference from a listener and from default',
      text: lines('listeners:', '  - socket: /run/p.sock', '    profile: portaner', 'default: homepag', 'profiles:', '  portainer: {}'),
      errors: [
        'sieve.yaml:3:14: listeners[0].profile: no profile "portaner"; did you mean "portainer"?',
        'sieve.yaml:4:10: default: no profile "homepag"; use deny or a profile\'s name',
      ],
    },
    {
      name: 'a client without its profile',
      text: lines('clients:', '  - from: [10.0.0.1]', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:2:5: clients[0]: "profile" is required'],
    },
    {
      name: 'two identities in one client',
      text: lines('clients:', '  - token_env: HOME_TOKEN', '    from: [10.0.0.1]', '    profile: a', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:3:5: clients[0].from: a client has exactly one identity, and this one has token_env already'],
    },
    {
      name: 'no identity in a client',
      text: lines('clients:', '  - profile: a', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:2:5: clients[0]: needs an identity: one of token_file, token_sha256, token_env, certificate, from'],
    },
    {
      name: 'bad token_sha256',
      text: lines('clients:', '  - token_sha256: abc123', '    profile: a', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:2:19: clients[0].token_sha256: must be 64 hex digits (the output of docker-sieve hash-token or sha256sum)'],
    },
    {
      name: 'bad token_env',
      text: lines('clients:', '  - token_env: $TOKEN', '    profile: a', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:2:16: clients[0].token_env: must be the name of an environment variable'],
    },
    {
      name: 'a certificate with two fields, and no mTLS listener',
      text: lines('clients:', '  - certificate: { cn: traefik, san: traefik.local }', '    profile: a', 'profiles: { a: {} }'),
      errors: [
        'sieve.yaml:2:5: clients[0].certificate: needs a port listener with tls.ca in listeners: only there are client certificates asked for and verified',
        'sieve.yaml:2:33: clients[0].certificate.san: a certificate rule has exactly one of cn, san or sha256, and this one has cn already',
      ],
    },
    {
      name: 'a certificate client with a TLS listener that has no ca',
      text: lines(
        'listeners:',
        '  - { port: 2376, tls: { cert: /c.pem, key: /k.pem } }',
        'clients:',
        '  - { certificate: { sha256: "ab:cd" }, profile: a }',
        'profiles: { a: {} }',
      ),
      errors: [
        'sieve.yaml:4:7: clients[0].certificate: needs a port listener with tls.ca in listeners: only there are client certificates asked for and verified',
        'sieve.yaml:4:30: clients[0].certificate.sha256: must be a SHA-256 fingerprint: 64 hex digits, with or without colons',
      ],
    },
    {
      name: 'from: host names and bad CIDRs',
      text: lines('clients:', '  - from: [example.com, 10.0.0.0/33, " "]', '    profile: a', 'profiles: { a: {} }'),
      errors: [
        'sieve.yaml:2:12: clients[0].from[0]: "example.com" is not an IP address or CIDR',
        'sieve.yaml:2:25: clients[0].from[1]: "10.0.0.0/33" is not an IP address or CIDR',
        'sieve.yaml:2:38: clients[0].from[2]: must not be empty',
      ],
    },
    {
      name: 'listeners: port and socket, tls on a socket, mode on a port, a port out of range',
      text: lines(
        'listeners:',
        '  - port: 2375',
        '    socket: /run/a.sock',
        '  - socket: /run/b.sock',
        '    tls: { cert: /c.pem, key: /k.pem }',
        '  - port: 70000',
        '    mode: "0600"',
        '  - address: 127.0.0.1',
        'profiles: { a: {} }',
      ),
      errors: [
        'sieve.yaml:3:5: listeners[0].socket: a listener has port or socket, not both',
        'sieve.yaml:5:5: listeners[1].tls: tls is only for port listeners',
        'sieve.yaml:6:11: listeners[2].port: must be at most 65535',
        'sieve.yaml:7:5: listeners[2].mode: mode is only for socket listeners',
        'sieve.yaml:8:5: listeners[3]: needs port or socket',
      ],
    },
    {
      name: 'socket mode: an unquoted 0660 is decimal, a bad string, a relative socket',
      text: lines('listeners:', '  - socket: /run/a.sock', '    mode: 0660', '  - socket: run/b.sock', '    mode: "0999"', 'profiles: { a: {} }'),
      errors: [
        'sieve.yaml:3:11: listeners[0].mode: must be a file mode between 0 and 0o777 (an unquoted 0660 is the decimal 660 in YAML: write "0660" or 0o660)',
        'sieve.yaml:4:13: listeners[1].socket: must be an absolute path (starting with /)',
        'sieve.yaml:5:11: listeners[1].mode: must be an octal file mode such as "0660"',
      ],
    },
    {
      name: 'duplicate listeners',
      text: lines('listeners:', '  - port: 2375', '  - port: 2375', '  - socket: /s', '  - socket: /s', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:3:11: listeners[1].port: port 2375 is already listeners[0]', 'sieve.yaml:5:13: listeners[3].socket: socket /s is already listeners[2]'],
    },
    {
      name: 'tls without a key',
      text: lines('listeners:', '  - port: 2376', '    tls: { cert: /c.pem }', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:3:10: listeners[0].tls: "key" is required'],
    },
    {
      name: 'labels and names: empty items, an empty key, a comma',
      text: lines('profiles:', '  a:', '    names: [jellyfin, ""]', '    labels: ["=media", "a,b", "  "]'),
      errors: [
        'sieve.yaml:3:23: profiles.a.names[1]: must not be empty',
        'sieve.yaml:4:14: profiles.a.labels[0]: a label rule needs a key (key or key=value)',
        'sieve.yaml:4:24: profiles.a.labels[1]: one label rule per list item (no commas)',
        'sieve.yaml:4:31: profiles.a.labels[2]: must not be empty',
      ],
    },
    {
      name: 'profile names: deny is reserved, odd characters',
      text: lines('profiles:', '  deny: {}', '  "my profile": {}'),
      errors: [
        'sieve.yaml:2:3: profiles.deny: "deny" cannot be a profile name (default: deny means no profile)',
        'sieve.yaml:3:3: profiles.my profile: a profile name is up to 64 letters, digits, _ and -, starting with a letter or digit',
      ],
    },
    {
      name: 'no profiles at all',
      text: lines('profiles: {}'),
      errors: ['sieve.yaml:1:11: profiles: must name at least one profile'],
    },
    {
      name: 'a bad upstream',
      text: lines('upstream: ftp://socket-proxy', 'profiles: { a: {} }'),
      errors: ['sieve.yaml:1:11: upstream: unsupported scheme "ftp:" (use http, https or unix)'],
    },
    {
      name: 'an empty file',
      text: '',
      errors: ['sieve.yaml:1:1: must be a mapping, not empty'],
    },
    {
      name: 'YAML syntax error: bad indentation',
      text: lines('profiles:', '  a: {}', ' b: {}'),
      errors: ['sieve.yaml:3:1: YAML: All mapping items must start at the same column'],
    },
    {
      name: 'YAML syntax error: an unclosed flow sequence (and nothing judged after it)',
      text: lines('profiles:', '  a: { names: [x, y }', '  b: { acess: read }'),
      errors: [
        'sieve.yaml:2:21: profiles.a.names: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
        'sieve.yaml:3:3: profiles.b: YAML: Flow map in block collection must be sufficiently indented and end with a }',
      ],
    },
    {
      name: 'YAML syntax error: a tab as indentation',
      text: lines('profiles:', '\ta: {}'),
      errors: ['sieve.yaml:2:1: YAML: Tabs are not allowed as indentation'],
    },
    {
      name: 'duplicate key (checking goes on)',
      text: lines('profiles:', '  a: {}', '  a: { access: read }', '  b: { mode: strict }'),
      errors: [
        'sieve.yaml:3:3: profiles.a: duplicate key (first at line 2)',
        'sieve.yaml:4:14: profiles.b.mode: "strict" is not one of enforce, audit',
      ],
    },
    {
      name: 'an alias without its anchor',
      text: lines('profiles:', '  a: *base'),
      errors: ['sieve.yaml:2:6: profiles.a: alias *base has no anchor before it'],
    },
    {
      name: 'a key that is not a string',
      text: lines('profiles: { a: {}, [x]: {} }'),
      errors: ['sieve.yaml:1:20: profiles: a key must be a plain string'],
    },
    {
      name: 'several errors at once, in file order',
      text: fixture('several-errors.yaml'),
      errors: [
        'sieve.yaml:3:5: listeners[0].tls: tls is only for port listeners',
        'sieve.yaml:6:19: clients[0].token_sha256: must be a string, not 12345 (quote it: "12345")',
        'sieve.yaml:7:14: clients[0].profile: no profile "homepge"; did you mean "homepage"?',
        'sieve.yaml:9:5: clients[1].from: a client has exactly one identity, and this one has certificate already',
        'sieve.yaml:10:5: clients[1].certificate: needs a port listener with tls.ca in listeners: only there are client certificates asked for and verified',
        'sieve.yaml:12:10: default: no profile "nobody"; use deny or a profile\'s name',
        'sieve.yaml:15:5: profiles.homepage.acess: unknown key; did you mean "access"?',
        'sieve.yaml:16:11: profiles.homepage.mode: "audits" is not one of enforce, audit; did you mean "audit"?',
        `sieve.yaml:18:32: profiles.portainer.access.actions[1]: "restrat" is not one of ${ALL_ACTIONS}; did you mean "restart"?`,
      ],
    },
  ];

  it.each(cases)('$name', ({ text, errors }) => {
    expect(errorsOf(text)).toEqual(errors);
  });

  it('gives the errors as data too', () => {
    try {
      parseConfigFile(lines('profiles:', '  homepage:', '    acess: read'), 'conf/sieve.yaml');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigFileError);
      expect((error as ConfigFileError).errors).toEqual([
        { file: 'conf/sieve.yaml', line: 3, column: 5, path: 'profiles.homepage.acess', message: 'unknown key; did you mean "access"?' },
      ]);
    }
  });
});

/** A ConfigFile as plain data, to compare with toEqual. */
function plain(config: ConfigFile): unknown {
  return {
    ...config,
    profiles: Object.fromEntries(
      [...config.profiles].map(([name, profile]) => [
        name,
        { ...profile, access: profile.access.kind === 'actions' ? { kind: 'actions', actions: [...profile.access.actions] } : profile.access },
      ]),
    ),
  };
}

describe('parseConfigFile: valid files', () => {
  it('parses the full example', () => {
    const config = parseConfigFile(fixture('full.yaml'), 'sieve.yaml');
    const at = (line: number, column: number, path: string) => ({ file: 'sieve.yaml', line, column, path });
    expect(plain(config)).toEqual({
      upstream: 'http://socket-proxy:2375',
      listeners: [
        { kind: 'tcp', port: 2375, address: undefined, tls: undefined, profile: undefined, where: at(3, 5, 'listeners[0]') },
        {
          kind: 'tcp',
          port: 2376,
          address: '0.0.0.0',
          tls: { cert: '/certs/cert.pem', key: '/certs/key.pem', ca: '/certs/ca.pem' },
          profile: undefined,
          where: at(4, 5, 'listeners[1]'),
        },
        { kind: 'unix', socket: '/run/docker-sieve/portainer.sock', mode: 0o660, profile: 'portainer', where: at(7, 5, 'listeners[2]') },
      ],
      clients: [
        { kind: 'token', profile: 'homepage', token: { kind: 'file', path: '/run/secrets/homepage-token' }, where: at(10, 5, 'clients[0]') },
        { kind: 'certificate', profile: 'traefik', certificate: { field: 'cn', value: 'traefik' }, where: at(12, 5, 'clients[1]') },
        { kind: 'from', profile: 'kuma', from: ['172.30.0.0/24'], where: at(14, 5, 'clients[2]') },
      ],
      default: 'deny',
      profiles: {
        homepage: {
          name: 'homepage',
          names: ['jellyfin', 'sonarr'],
          labels: [{ key: 'homepage.group', value: undefined }],
          scrubEnvs: true,
          access: { kind: 'read' },
          mode: 'enforce',
        },
        traefik: { name: 'traefik', names: [], labels: [{ key: 'traefik.enable', value: 'true' }], scrubEnvs: false, access: { kind: 'read' }, mode: 'enforce' },
        kuma: { name: 'kuma', names: [], labels: [{ key: 'uptime.enabled', value: 'true' }], scrubEnvs: false, access: { kind: 'read' }, mode: 'enforce' },
        portainer: {
          name: 'portainer',
          names: [],
          labels: [{ key: 'com.docker.compose.project', value: 'media' }],
          scrubEnvs: false,
          access: { kind: 'actions', actions: ['start', 'stop', 'restart', 'exec'] },
          mode: 'audit',
        },
      },
    });
    expect([...config.profiles.keys()]).toEqual(['homepage', 'traefik', 'kuma', 'portainer']);
  });

  it('fills in the defaults: deny, no listeners, no upstream, a profile that sees all with every right', () => {
    const config = parseConfigFile('profiles: { admin: {} }\n', 'sieve.yaml');
    expect(config.default).toBe('deny');
    expect(config.listeners).toBeUndefined();
    expect(config.upstream).toBeUndefined();
    expect(config.clients).toEqual([]);
    expect(config.profiles.get('admin')).toEqual({ name: 'admin', names: [], labels: [], scrubEnvs: false, access: { kind: 'all' }, mode: 'enforce' });
  });

  it('is frozen, maps and sets included', () => {
    const config = parseConfigFile(fixture('full.yaml'), 'sieve.yaml');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listeners)).toBe(true);
    expect(Object.isFrozen(config.clients[0])).toBe(true);
    expect(Object.isFrozen(config.profiles.get('homepage')!.labels[0])).toBe(true);
    expect(() => (config.profiles as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (config.profiles as Map<string, unknown>).delete('homepage')).toThrow(TypeError);
    const access = config.profiles.get('portainer')!.access;
    expect(access.kind === 'actions' && access.actions.has('exec')).toBe(true);
    if (access.kind === 'actions') expect(() => (access.actions as Set<string>).add('create')).toThrow(TypeError);
  });

  const modes: Array<[string, number]> = [
    ['"0660"', 0o660],
    ['"660"', 0o660],
    ['"0o600"', 0o600],
    ['0o600', 0o600],
    ['432', 0o660],
    ['0', 0],
  ];
  it.each(modes)('reads socket mode %s', (written, mode) => {
    const config = parseConfigFile(`listeners: [{ socket: /s, mode: ${written} }]\nprofiles: { a: {} }\n`, 's.yaml');
    expect(config.listeners![0]).toMatchObject({ kind: 'unix', mode });
  });

  it('trims names, labels and addresses; normalises digests and fingerprints', () => {
    const digest = 'AB'.repeat(32);
    const fingerprint = Array.from({ length: 32 }, () => 'Cd').join(':');
    const config = parseConfigFile(
      lines(
        'listeners: [{ port: 2376, tls: { cert: /c, key: /k, ca: /ca } }]',
        'clients:',
        `  - { token_sha256: ${digest}, profile: a }`,
        `  - { certificate: { sha256: "${fingerprint}" }, profile: a }`,
        '  - { certificate: { san: Traefik.Local }, profile: a }',
        '  - { from: ["10.0.0.1", "fd00::/8", "::ffff:10.1.0.0/112"], profile: a }',
        'profiles:',
        '  a: { names: [" jellyfin "], labels: [" a.b = c ", " d "] }',
      ),
      's.yaml',
    );
    expect(config.clients.map((client) => (client.kind === 'token' ? client.token : client.kind === 'certificate' ? client.certificate : client.from))).toEqual([
      { kind: 'sha256', sha256: 'ab'.repeat(32) },
      { field: 'sha256', value: 'cd'.repeat(32) },
      { field: 'san', value: 'Traefik.Local' },
      ['10.0.0.1', 'fd00::/8', '::ffff:10.1.0.0/112'],
    ]);
    expect(config.profiles.get('a')).toMatchObject({ names: ['jellyfin'], labels: [{ key: 'a.b', value: 'c' }, { key: 'd', value: undefined }] });
  });

  it('follows anchors and aliases', () => {
    const config = parseConfigFile(lines('profiles:', '  a: &ro { access: read, labels: [x] }', '  b: *ro'), 's.yaml');
    expect(config.profiles.get('b')).toMatchObject({ name: 'b', access: { kind: 'read' }, labels: [{ key: 'x', value: undefined }] });
  });

  it('takes a profile as default', () => {
    expect(parseConfigFile('default: guest\nprofiles: { guest: { access: read } }\n', 's.yaml').default).toBe('guest');
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-config-'));

  it('reads a file and names it in errors', () => {
    const path = join(dir, 'sieve.yaml');
    writeFileSync(path, 'profiles:\n  a: { acess: read }\n');
    expect(() => loadConfigFile(path)).toThrow(`${path}:2:8: profiles.a.acess: unknown key; did you mean "access"?`);
    writeFileSync(path, 'profiles:\n  a: { access: read }\n');
    expect(loadConfigFile(path).profiles.get('a')!.access).toEqual({ kind: 'read' });
  });

  it('says when the file cannot be read', () => {
    const path = join(dir, 'missing.yaml');
    expect(() => loadConfigFile(path)).toThrow(new RegExp(`^${path}: cannot be read: ENOENT`));
  });
});

describe('nearest and editDistance', () => {
  it.each([
    ['acess', 'access', 1],
    ['lables', 'labels', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s → %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });

  it('hints only a close word', () => {
    expect(nearest('acess', ['names', 'labels', 'access'])).toBe('access');
    expect(nearest('Profile', ['profiles', 'clients'])).toBe('profiles');
    expect(nearest('colour', ['names', 'labels', 'access'])).toBeUndefined();
  });
});

describe('resolveTokens', () => {
  const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
  const text = lines(
    'clients:',
    '  - token_file: /run/secrets/a',
    '    profile: a',
    '  - token_env: B_TOKEN',
    '    profile: a',
    `  - token_sha256: ${sha('c')}`,
    '    profile: a',
    '  - from: [10.0.0.1]',
    '    profile: a',
    'profiles: { a: {} }',
  );
  const config = parseConfigFile(text, 'sieve.yaml');
  const sources = (files: Record<string, string>, env: Record<string, string | undefined>): TokenSources => ({
    readFile(path) {
      const content = files[path];
      if (content === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return content;
    },
    env,
  });

  it('hashes each token client, trimming a token file’s trailing newline', () => {
    const digests = resolveTokens(config.clients, sources({ '/run/secrets/a': 'token-a\n' }, { B_TOKEN: 'token-b' }));
    expect(digests.size).toBe(3);
    expect(digests.get(config.clients[0]!)!.toString('hex')).toBe(sha('token-a'));
    expect(digests.get(config.clients[1]!)!.toString('hex')).toBe(sha('token-b'));
    expect(digests.get(config.clients[2]!)!.toString('hex')).toBe(sha('c'));
    expect(digests.has(config.clients[3]!)).toBe(false);
  });

  it('reads a Buffer too, and CRLF', () => {
    const digests = resolveTokens(config.clients, { readFile: () => Buffer.from('token-a\r\n'), env: { B_TOKEN: 'x' } });
    expect(digests.get(config.clients[0]!)!.toString('hex')).toBe(sha('token-a'));
  });

  it('reports every missing or empty token at its client entry', () => {
    const cases: Array<[Record<string, string>, Record<string, string | undefined>, string[]]> = [
      [
        {},
        {},
        [
          "sieve.yaml:2:5: clients[0].token_file: /run/secrets/a cannot be read: ENOENT: no such file or directory, open '/run/secrets/a'",
          'sieve.yaml:4:5: clients[1].token_env: B_TOKEN is not set',
        ],
      ],
      [{ '/run/secrets/a': ' \n' }, { B_TOKEN: '' }, ['sieve.yaml:2:5: clients[0].token_file: /run/secrets/a is empty', 'sieve.yaml:4:5: clients[1].token_env: B_TOKEN is empty']],
      [{ '/run/secrets/a': 'same\n' }, { B_TOKEN: 'same' }, ['sieve.yaml:4:5: clients[1]: has the same token as clients[0] (line 2), so it could never match']],
    ];
    for (const [files, env, errors] of cases) {
      expect(() => resolveTokens(config.clients, sources(files, env))).toThrow(ConfigFileError);
      try {
        resolveTokens(config.clients, sources(files, env));
      } catch (error) {
        expect((error as Error).message.split('\n')).toEqual(errors);
      }
    }
  });
});
