// compose/*/compose.yaml: every example is what Debian's docker-compose accepts (`docker-compose config`),
// and keeps the promises its README makes: the socket proxy alone holds the socket, on an internal network
// that only docker-sieve joins, and docker-sieve's settings are ones it accepts (its environment, or the config
// file it names in CONFIG_FILE, which must pass parseConfigFile).
//
// Needs no daemon: it runs wherever docker-compose is installed (.ci/run installs it), and skips with a
// banner elsewhere. With CI=true a missing docker-compose is an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, SETTINGS } from '../../src/config.js';
import { OWNED_BY_FILE } from '../../src/config/load.js';
import { parseConfigFile, type ConfigFile } from '../../src/config/file.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { findBinary } from './harness/dockerd.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const COMPOSE_DIR = join(ROOT, 'compose');
const EXAMPLES = readdirSync(COMPOSE_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(COMPOSE_DIR, entry.name, 'compose.yaml')))
  .map((entry) => entry.name)
  .sort();
/** Variables the examples require from the user (compose stops with a message when they are unset). */
const USER_ENV = { DOCKER_GID: '998', PODMAN_SOCKET: '/run/podman/podman.sock' };
/** Podman's API socket: rootful, and rootless ($XDG_RUNTIME_DIR/podman/podman.sock). */
const PODMAN_ROOTFUL = '/run/podman/podman.sock';
const PODMAN_ROOTLESS = '/run/user/1000/podman/podman.sock';

const composeBin = findBinary('docker-compose');
const inCi = process.env.CI === 'true';

function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const bar = '!'.repeat(width + 2);
  return ['', bar, ...lines.map((l) => `!  ${l.padEnd(width - 2)}!`), bar, ''].join('\n');
}

let describeCompose: typeof describe = describe;
if (!composeBin && !inCi) {
  process.stderr.write(
    banner([
      'COMPOSE EXAMPLES NOT VALIDATED (test/integration/compose.test.ts)',
      '',
      '`docker-compose` not found: apt-get install docker-compose',
      'With CI=true this is an error, not a skip.',
    ]),
  );
  describeCompose = describe.skip as typeof describe;
}

interface Service {
  image?: string;
  build?: { context: string };
  environment?: Record<string, string | number | boolean | null>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean } | string>;
  ports?: unknown[];
  networks?: Record<string, unknown> | string[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  command?: string[] | string;
  user?: string;
  tmpfs?: string[] | string;
  labels?: Record<string, string>;
  secrets?: Array<{ source: string; target?: string } | string>;
  healthcheck?: { test?: string[] | string };
}
interface Project {
  services: Record<string, Service>;
  networks?: Record<
    string,
    { internal?: boolean; name?: string; ipam?: { config?: Array<{ subnet?: string; ip_range?: string }> } } | null
  >;
  volumes?: Record<string, { driver?: string; driver_opts?: Record<string, string> } | null>;
  secrets?: Record<string, { file?: string }>;
}

/** A clean environment for docker-compose: none of the caller's DOCKER_/COMPOSE_ settings or proxies. */
function composeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(DOCKER_|COMPOSE_)/.test(key) || /^(https?|all|no)_proxy$/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function composeConfig(example: string, extraEnv: Record<string, string> = USER_ENV): { code: number; stdout: string; stderr: string } {
  if (!composeBin) throw new Error('CI=true but `docker-compose` is not installed (apt-get install docker-compose)');
  const dir = join(COMPOSE_DIR, example);
  const r = spawnSync(composeBin, ['--project-directory', dir, '--file', join(dir, 'compose.yaml'), 'config'], {
    env: composeEnv(extraEnv),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** YAML to JSON with the Python (and PyYAML) docker-compose itself runs on. */
function yamlToJson(text: string): unknown {
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(composeBin!, 'utf8').slice(0, 200))?.[1];
  const python = shebang && existsSync(shebang) ? shebang : 'python3';
  const r = spawnSync(python, ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: text,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`${python} could not turn YAML into JSON: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const networksOf = (service: Service): string[] =>
  Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});

/** Volumes in one form: docker-compose v1 prints the short `src:dst[:mode]`, newer ones the long form. */
function mountsOf(service: Service): Array<{ source: string; target: string; readOnly: boolean }> {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, readOnly: v.read_only === true };
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

/** Does the service mount a daemon's socket: Docker's, or Podman's (rootful or rootless)? */
/** Published ports in one form: docker-compose v1 prints `address:published:target/protocol` when an address is given. */
function portsOf(service: Service): Array<{ hostIp: string; published: string; target: string }> {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'string') {
      const parts = port.split('/')[0]!.split(':');
      const target = parts.pop() ?? '';
      const published = parts.pop() ?? '';
      return { hostIp: parts.join(':'), published, target };
    }
    const { host_ip: hostIp = '', published = '', target = '' } = port as { host_ip?: string; published?: string | number; target?: string | number };
    return { hostIp, published: String(published), target: String(target) };
  });
}

const mountsSocket = (service: Service): boolean => mountsOf(service).some((m) => /(^|\/)(docker|podman)\.sock$/.test(m.source));

/** Environment as the container gets it: strings (docker-compose v1 prints `CONTAINERS: 1` as a number). */
const envOf = (service: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));

const commandOf = (service: Service): string[] => (Array.isArray(service.command) ? service.command : service.command ? [service.command] : []);

/** Secret names a service mounts (at /run/secrets/NAME, as compose does without a target). */
const secretsOf = (service: Service): string[] => (service.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.target ?? s.source));

/**
 * The config file a docker-sieve service names in CONFIG_FILE, read from the host file mounted there (read-only),
 * through the pure parser: it must parse with no errors. Token files are not read (they are the user's to make).
 */
function configFileOf(example: string, sieve: Service): ConfigFile {
  const path = envOf(sieve).CONFIG_FILE;
  if (path === undefined) throw new Error(`compose/${example}: docker-sieve has no CONFIG_FILE`);
  const mount = mountsOf(sieve).find((m) => m.target === path);
  expect(mount, `${path} is mounted into docker-sieve`).toBeDefined();
  expect(mount!.readOnly, `${path} is mounted read-only`).toBe(true);
  expect(mount!.source.startsWith(join(COMPOSE_DIR, example) + '/'), `${path} comes from compose/${example}`).toBe(true);
  return parseConfigFile(readFileSync(mount!.source, 'utf8'), `compose/${example}/${basename(mount!.source)}`);
}

function ipv4(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}
/** Is `address` in `cidr` (IPv4)? */
function inCidr(address: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = ipv4(base) - (ipv4(base) % size);
  return ipv4(address) >= start && ipv4(address) < start + size;
}

describeCompose('compose examples: docker-compose config, and the shape every README promises', () => {
  const projects = new Map<string, Project>();
  function project(example: string): Project {
    let p = projects.get(example);
    if (!p) {
      const r = composeConfig(example);
      if (r.code !== 0) throw new Error(`docker-compose config failed for compose/${example}:\n${r.stderr}`);
      p = yamlToJson(r.stdout) as Project;
      projects.set(example, p);
    }
    return p;
  }

  it('there are the six examples, each with a README', () => {
    expect(EXAMPLES).toEqual(['homepage-tecnativa', 'one-sieve-many-clients', 'podman', 'remote-tls', 'traefik-wollomatic', 'uptime-kuma-linuxserver']);
    for (const example of EXAMPLES) {
      expect(readFileSync(join(COMPOSE_DIR, example, 'README.md'), 'utf8')).toMatch(/^# .+/);
    }
  });

  it.each(EXAMPLES)('%s: docker-compose config accepts it', (example) => {
    const r = composeConfig(example);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/WARNING|invalid|unsupported/i);
  });

  it.each(EXAMPLES)('%s: only the socket proxy holds the socket, on internal networks shared with docker-sieve alone', (example) => {
    const p = project(example);
    const proxy = p.services['socket-proxy'];
    const sieve = p.services['docker-sieve'];
    expect(proxy, 'a socket-proxy service').toBeDefined();
    expect(sieve, 'a docker-sieve service').toBeDefined();
    for (const [name, service] of Object.entries(p.services)) {
      expect(mountsSocket(service), `${name} mounts the docker socket`).toBe(name === 'socket-proxy');
    }
    expect(proxy!.ports ?? []).toEqual([]);
    const proxyNetworks = networksOf(proxy!);
    expect(proxyNetworks.length).toBeGreaterThan(0);
    for (const network of proxyNetworks) {
      expect(p.networks?.[network]?.internal, `network ${network} is internal`).toBe(true);
      const members = Object.entries(p.services)
        .filter(([, service]) => networksOf(service).includes(network))
        .map(([name]) => name)
        .sort();
      expect(members).toEqual(['docker-sieve', 'socket-proxy']);
    }
  });

  it.each(EXAMPLES)('%s: docker-sieve is built from this repository, hardened, and its settings parse', (example) => {
    const sieve = project(example).services['docker-sieve']!;
    expect(sieve.build?.context).toBe(ROOT);
    expect(sieve.read_only).toBe(true);
    expect(sieve.cap_drop).toEqual(['ALL']);
    expect(sieve.security_opt).toContain('no-new-privileges:true');
    const env = envOf(sieve);
    const known = new Set(SETTINGS.map((s) => s.variable));
    for (const key of Object.keys(env)) expect(known.has(key), `${key} is a docker-sieve setting`).toBe(true);
    if (env.CONFIG_FILE === undefined) {
      expect(env.PROXY_URL).toBe('http://socket-proxy:2375');
      const config = parseConfig(env);
      expect(config.containerNames.length + config.containerLabels.length, 'a filter is set').toBeGreaterThan(0);
      return;
    }
    const file = configFileOf(example, sieve);
    for (const { key, variables } of OWNED_BY_FILE) {
      if (file[key] === undefined) continue;
      for (const variable of variables) expect(env[variable], `${variable} is set and the file sets ${key}`).toBeUndefined();
    }
    expect(file.upstream ?? env.PROXY_URL).toBe('http://socket-proxy:2375');
    parseConfig({ ...env, PROXY_URL: file.upstream ?? env.PROXY_URL });
    for (const profile of file.profiles.values()) {
      expect(profile.names.length + profile.labels.length, `profile ${profile.name} sets a filter`).toBeGreaterThan(0);
    }
  });

  it('homepage-tecnativa: Homepage reaches docker-sieve only, and docker.yaml points at it', () => {
    const p = project('homepage-tecnativa');
    expect(p.services['socket-proxy']!.image).toMatch(/^tecnativa\/docker-socket-proxy(:|$)/);
    expect(envOf(p.services['socket-proxy']!)).toMatchObject({ CONTAINERS: '1', EVENTS: '1', PING: '1', POST: '0' });
    expect(networksOf(p.services.homepage!)).not.toContain('socket-proxy');
    expect(networksOf(p.services.homepage!).some((n) => networksOf(p.services['docker-sieve']!).includes(n))).toBe(true);
    const dockerYaml = yamlToJson(readFileSync(join(COMPOSE_DIR, 'homepage-tecnativa', 'config', 'docker.yaml'), 'utf8'));
    expect(dockerYaml).toEqual({ 'my-docker': { host: 'docker-sieve', port: 2375 } });
    // The example container is one docker-sieve shows.
    expect(envOf(p.services['docker-sieve']!).CONTAINER_LABELS).toBe('homepage.group');
    expect(Object.keys((p.services.whoami as { labels?: Record<string, string> }).labels ?? {})).toContain('homepage.group');
  });

  it('uptime-kuma-linuxserver: linuxserver/socket-proxy read-only with /run on tmpfs; Uptime Kuma off the socket network', () => {
    const p = project('uptime-kuma-linuxserver');
    const proxy = p.services['socket-proxy']!;
    expect(proxy.image).toMatch(/^lscr\.io\/linuxserver\/socket-proxy(:|$)/);
    expect(envOf(proxy)).toMatchObject({ CONTAINERS: '1', EVENTS: '1', PING: '1', POST: '0' });
    expect(proxy.read_only).toBe(true);
    expect([proxy.tmpfs].flat()).toContain('/run');
    expect(networksOf(p.services['uptime-kuma']!)).not.toContain('socket-proxy');
  });

  it('traefik-wollomatic: -allowHEAD=/_ping, and -allowGET lets through what Traefik and docker-sieve send, nothing more', () => {
    const p = project('traefik-wollomatic');
    const proxy = p.services['socket-proxy']!;
    expect(proxy.image).toMatch(/^wollomatic\/socket-proxy:/);
    expect(proxy.user).toBe(`65534:${USER_ENV.DOCKER_GID}`);
    const command = commandOf(proxy);
    expect(command).toContain('-allowHEAD=/_ping');
    expect(command).toContain('-allowfrom=docker-sieve');
    expect(command).toContain('-listenip=0.0.0.0');
    expect(command.filter((arg) => /^-allow(POST|PUT|DELETE|PATCH)/i.test(arg))).toEqual([]);
    const gets = command.filter((arg) => arg.startsWith('-allowGET=')).map((arg) => arg.slice('-allowGET='.length));
    expect(gets).toHaveLength(1);
    // socket-proxy anchors the pattern with ^ and $ and matches it against the request path (Go RE2; this
    // pattern means the same in JavaScript).
    const allowGet = new RegExp(`^${gets[0]}$`);
    const allowed = [
      '/_ping', // GET fallback of the ping, and docker-sieve's healthcheck
      '/v1.41/version',
      '/v1.51/version',
      '/v1.41/containers/json',
      '/v1.41/containers/4f1c0a0b9e2d/json',
      '/v1.41/events',
      '/containers/traefik-whoami-1/json', // docker-sieve's lookups are unversioned
      '/events', // docker-sieve's name-cache watch
    ];
    for (const path of allowed) expect(allowGet.test(path), `GET ${path} allowed`).toBe(true);
    const refused = ['/v1.41/images/json', '/v1.41/info', '/v1.41/networks', '/v1.41/secrets', '/v1.41/system/df', '/v1.41/containers', '/x/_ping'];
    for (const path of refused) expect(allowGet.test(path), `GET ${path} refused`).toBe(false);
    // Traefik talks to docker-sieve, on a network the socket proxy is not on.
    const traefik = p.services.traefik!;
    expect(commandOf(traefik)).toContain('--providers.docker.endpoint=tcp://docker-sieve:2375');
    expect(networksOf(traefik)).not.toContain('socket-proxy');
    expect(envOf(p.services['docker-sieve']!).CONTAINER_LABELS).toBe('traefik.enable=true');
  });

  it('traefik-wollomatic: without DOCKER_GID, docker-compose stops and says how to set it', () => {
    const r = composeConfig('traefik-wollomatic', {});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('stat -c %g /var/run/docker.sock');
  });

  it('one-sieve-many-clients: sieve.yaml parses, and gives each client its own read-only profile; anyone else is denied', () => {
    const p = project('one-sieve-many-clients');
    // One docker-sieve (the only service built here) and one socket proxy for all three clients.
    expect(Object.entries(p.services).filter(([, s]) => s.build !== undefined).map(([name]) => name)).toEqual(['docker-sieve']);
    const proxy = p.services['socket-proxy']!;
    expect(proxy.image).toMatch(/^tecnativa\/docker-socket-proxy(:|$)/);
    expect(envOf(proxy)).toMatchObject({ CONTAINERS: '1', EVENTS: '1', PING: '1', VERSION: '1', POST: '0' });
    const sieve = p.services['docker-sieve']!;
    expect(Object.keys(envOf(sieve))).toEqual(['CONFIG_FILE']);
    const file = configFileOf('one-sieve-many-clients', sieve);
    expect(file.default).toBe('deny');
    const profile = (name: string) => {
      const spec = file.profiles.get(name);
      expect(spec, `profile ${name}`).toBeDefined();
      return spec!;
    };
    expect(profile('homepage')).toMatchObject({ names: [], labels: [{ key: 'homepage.group' }], scrubEnvs: true, access: { kind: 'read' }, mode: 'enforce' });
    expect(profile('traefik')).toMatchObject({ names: [], labels: [{ key: 'traefik.enable', value: 'true' }], access: { kind: 'read' }, mode: 'enforce' });
    expect(profile('kuma')).toMatchObject({ names: [], labels: [{ key: 'uptime.enabled', value: 'true' }], access: { kind: 'read' }, mode: 'enforce' });
    for (const spec of file.profiles.values()) expect(spec.access, `profile ${spec.name} is read-only`).toEqual({ kind: 'read' });
    // The demo container is one each client sees, by its own rule; docker-sieve itself is seen by none.
    const whoami = p.services.whoami!.labels ?? {};
    for (const name of ['homepage', 'traefik', 'kuma']) {
      const policy = compilePolicy(profile(name));
      expect(policy.visibleContainer({ name: 'one-sieve-many-clients-whoami-1', labels: whoami }), `${name} sees whoami`).toBe(true);
      expect(policy.visibleContainer({ name: 'one-sieve-many-clients-docker-sieve-1', labels: {} }), `${name} sees docker-sieve`).toBe(false);
    }
    const listeners = file.listeners ?? [];
    const clients = file.clients;

    // Homepage: a token, the secret both containers mount; docker.yaml sends it as a Bearer header.
    const homepage = p.services.homepage!;
    const tokenClients = clients.filter((c) => c.kind === 'token');
    expect(tokenClients.map((c) => c.profile)).toEqual(['homepage']);
    const token = tokenClients[0]!.kind === 'token' ? tokenClients[0]!.token : undefined;
    expect(token).toEqual({ kind: 'file', path: '/run/secrets/homepage_token' });
    expect(secretsOf(sieve)).toContain('homepage_token');
    expect(secretsOf(homepage)).toContain('homepage_token');
    expect(p.secrets?.homepage_token?.file).toBe(join(COMPOSE_DIR, 'one-sieve-many-clients', 'secrets', 'homepage.token'));
    expect(envOf(homepage).HOMEPAGE_FILE_SIEVE_TOKEN).toBe('/run/secrets/homepage_token');
    expect(mountsOf(homepage)).toContainEqual({ source: join(COMPOSE_DIR, 'one-sieve-many-clients', 'homepage'), target: '/app/config', readOnly: false });
    const dockerYaml = yamlToJson(readFileSync(join(COMPOSE_DIR, 'one-sieve-many-clients', 'homepage', 'docker.yaml'), 'utf8'));
    expect(dockerYaml).toEqual({
      'my-docker': { host: 'docker-sieve', port: 2375, headers: { Authorization: 'Bearer {{HOMEPAGE_FILE_SIEVE_TOKEN}}' } },
    });
    // ... to a TCP listener on 2375 with no profile of its own (the clients tell its callers apart).
    const tcp = listeners.filter((l) => l.kind === 'tcp');
    expect(tcp).toEqual([expect.objectContaining({ port: 2375, tls: undefined, profile: undefined })]);
    expect(networksOf(homepage).some((n) => networksOf(sieve).includes(n))).toBe(true);
    expect(networksOf(homepage)).not.toContain('socket-proxy');

    // Traefik: a unix socket listener with the traefik profile, on a volume only docker-sieve and Traefik mount,
    // which Traefik mounts at /var/run: the socket is its /var/run/docker.sock. No network shared with docker-sieve.
    const traefik = p.services.traefik!;
    const sockets = listeners.filter((l) => l.kind === 'unix');
    expect(sockets).toHaveLength(1);
    const socket = sockets[0]!.kind === 'unix' ? sockets[0]! : undefined;
    expect(socket?.profile).toBe('traefik');
    expect(basename(socket!.socket)).toBe('docker.sock');
    const sieveMount = mountsOf(sieve).find((m) => m.target === dirname(socket!.socket));
    expect(sieveMount, `a volume at ${dirname(socket!.socket)} in docker-sieve`).toBeDefined();
    expect(sieveMount!.readOnly).toBe(false);
    const volume = sieveMount!.source;
    expect(Object.keys(p.volumes ?? {})).toContain(volume);
    expect(p.volumes?.[volume]?.driver_opts).toMatchObject({ type: 'tmpfs', device: 'tmpfs' });
    expect(p.volumes?.[volume]?.driver_opts?.o).toMatch(/(^|,)uid=1000(,|$)/); // docker-sieve runs as uid 1000
    expect(mountsOf(traefik)).toContainEqual({ source: volume, target: '/var/run', readOnly: true });
    const mountedBy = Object.entries(p.services)
      .filter(([, s]) => mountsOf(s).some((m) => m.source === volume))
      .map(([name]) => name)
      .sort();
    expect(mountedBy).toEqual(['docker-sieve', 'traefik']);
    expect(commandOf(traefik)).toContain('--providers.docker.endpoint=unix:///var/run/docker.sock');
    expect(networksOf(traefik).filter((n) => networksOf(sieve).includes(n))).toEqual([]);

    // Uptime Kuma: by `from`, its fixed address on an internal network that only it and docker-sieve join, outside
    // the range Docker hands out to the others.
    const kuma = p.services['uptime-kuma']!;
    const kumaClients = clients.filter((c) => c.profile === 'kuma');
    expect(kumaClients).toHaveLength(1);
    const from = kumaClients[0]!.kind === 'from' ? kumaClients[0]!.from : [];
    expect(from).toHaveLength(1);
    const kumaNetworks = (Array.isArray(kuma.networks) ? {} : (kuma.networks ?? {})) as Record<string, { ipv4_address?: string } | null>;
    const [apiNetwork] = Object.entries(kumaNetworks).find(([, n]) => n?.ipv4_address === from[0]) ?? [];
    expect(apiNetwork, `uptime-kuma has ${from[0]} on some network`).toBeDefined();
    const network = p.networks?.[apiNetwork!];
    expect(network?.internal).toBe(true);
    const members = Object.entries(p.services)
      .filter(([, s]) => networksOf(s).includes(apiNetwork!))
      .map(([name]) => name)
      .sort();
    expect(members).toEqual(['docker-sieve', 'uptime-kuma']);
    const ipam = network?.ipam?.config?.[0];
    expect(inCidr(from[0]!, ipam!.subnet!)).toBe(true);
    expect(inCidr(from[0]!, ipam!.ip_range!), `${from[0]} is outside ip_range, so never handed to docker-sieve`).toBe(false);
    expect(networksOf(kuma)).not.toContain('socket-proxy');

    // The image's HEALTHCHECK (GET /_ping on 127.0.0.1:2375, no token) gets a profile, not the default deny.
    const loopback = clients.filter((c) => c.kind === 'from' && c.from.includes('127.0.0.1'));
    expect(loopback.map((c) => c.profile)).toEqual(['healthcheck']);
    expect(profile('healthcheck').access).toEqual({ kind: 'read' });
  });

  it("podman: linuxserver/socket-proxy holds Podman's socket read-only, GET and HEAD only, with what docker-sieve and the podman client need", () => {
    const p = project('podman');
    const proxy = p.services['socket-proxy']!;
    expect(proxy.image).toMatch(/^lscr\.io\/linuxserver\/socket-proxy(:|$)/);
    expect(proxy.read_only).toBe(true);
    expect([proxy.tmpfs].flat()).toContain('/run');
    // Mounted where the image looks for the daemon (SOCKET_PATH, /var/run/docker.sock unless set).
    const env = envOf(proxy);
    expect(mountsOf(proxy)).toEqual([{ source: PODMAN_ROOTFUL, target: env.SOCKET_PATH ?? '/var/run/docker.sock', readOnly: true }]);
    expect(env).toMatchObject({
      // The Docker-compatible API: docker-sieve's lookups, its name cache (it watches /events), its healthcheck.
      CONTAINERS: '1',
      EVENTS: '1',
      PING: '1',
      VERSION: '1',
      // The native API: the podman client pings and asks the version first; docker-sieve looks up containers
      // and pods there for /libpod routes.
      LIBPOD_PING: '1',
      LIBPOD_VERSION: '1',
      LIBPOD_CONTAINERS: '1',
      LIBPOD_PODS: '1',
      POST: '0',
    });
    // The ALLOW_* writes work even with POST=0: none is on. (ALLOW_LOGS and the other read switches may be.)
    for (const key of ['ALLOW_START', 'ALLOW_STOP', 'ALLOW_RESTARTS', 'ALLOW_PAUSE', 'ALLOW_UNPAUSE', 'LIBPOD_ALLOW_START', 'LIBPOD_ALLOW_STOP', 'LIBPOD_ALLOW_RESTARTS', 'LIBPOD_ALLOW_PAUSE', 'LIBPOD_ALLOW_UNPAUSE', 'LIBPOD_ALLOW_POD_START', 'LIBPOD_ALLOW_POD_STOP', 'LIBPOD_ALLOW_POD_RESTARTS', 'LIBPOD_ALLOW_POD_PAUSE', 'LIBPOD_ALLOW_POD_UNPAUSE']) {
      expect(env[key] ?? '0', `${key} is off`).toBe('0');
    }
    // Families docker-sieve refuses while filtering are not opened either, nor exec and generate (env, argv).
    for (const key of ['LIBPOD_PLAY', 'LIBPOD_SECRETS', 'LIBPOD_MANIFESTS', 'LIBPOD_EXEC', 'LIBPOD_GENERATE', 'EXEC']) {
      expect(env[key] ?? '0', `${key} is off`).toBe('0');
    }
  });

  it('podman: docker-sieve on loopback only, with a healthcheck of its own; the demo container is one it shows, and only that one', () => {
    const p = project('podman');
    const sieve = p.services['docker-sieve']!;
    expect(portsOf(sieve)).toEqual([{ hostIp: '127.0.0.1', published: '2375', target: '2375' }]);
    // `podman build` makes OCI images, which have no HEALTHCHECK: compose.yaml says it.
    expect([sieve.healthcheck?.test].flat()).toEqual(['CMD', 'docker-sieve', 'healthcheck']);
    const config = parseConfig(envOf(sieve));
    expect(config.scrubEnvs).toBe(true);
    const policy = compilePolicy({ names: config.containerNames, labels: config.containerLabels });
    // Labels, not names: docker-compose and podman-compose name the same service differently.
    for (const name of ['podman-whoami-1', 'podman_whoami_1']) {
      expect(policy.visibleContainer({ name, labels: p.services.whoami!.labels ?? {} }), `${name} is visible`).toBe(true);
    }
    for (const [service, spec] of Object.entries(p.services)) {
      if (service === 'whoami') continue;
      expect(policy.visibleContainer({ name: `podman-${service}-1`, labels: spec.labels ?? {} }), `${service} is hidden`).toBe(false);
    }
    // Every image named in full: Podman's short-name resolution would otherwise ask which registry.
    for (const [service, spec] of Object.entries(p.services)) {
      if (spec.build !== undefined) continue;
      expect(spec.image, `${service}'s image`).toMatch(/^[a-z0-9.-]+\.[a-z]+(:[0-9]+)?\//);
    }
  });

  it('podman: PODMAN_SOCKET picks the rootless socket too; without it, docker-compose stops and names both', () => {
    const rootless = composeConfig('podman', { ...USER_ENV, PODMAN_SOCKET: PODMAN_ROOTLESS });
    expect(rootless.code, rootless.stderr).toBe(0);
    const proxy = (yamlToJson(rootless.stdout) as Project).services['socket-proxy']!;
    expect(mountsOf(proxy).map((m) => m.source)).toEqual([PODMAN_ROOTLESS]);
    const r = composeConfig('podman', { DOCKER_GID: USER_ENV.DOCKER_GID });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/run/podman/podman.sock');
    expect(r.stderr).toContain('$XDG_RUNTIME_DIR/podman/podman.sock');
  });

  it('remote-tls: mTLS on 2376, ALLOW_FROM with loopback for the healthcheck, certificates mounted read-only', () => {
    const sieve = project('remote-tls').services['docker-sieve']!;
    const config = parseConfig(envOf(sieve));
    expect(config.port).toBe(2376);
    expect(config.tls).toEqual({ cert: '/certs/server-cert.pem', key: '/certs/server-key.pem', ca: '/certs/ca.pem' });
    expect(config.allowFrom).toContain('127.0.0.1');
    expect(config.allowFrom.length).toBeGreaterThan(1);
    expect(sieve.ports).toEqual([expect.objectContaining({ target: 2376, published: 2376 })]);
    expect(mountsOf(sieve)).toEqual([{ source: join(COMPOSE_DIR, 'remote-tls', 'certs'), target: '/certs', readOnly: true }]);
  });
});
