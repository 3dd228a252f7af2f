// compose/*/compose.yaml: every example is what Debian's docker-compose accepts (`docker-compose config`),
// and keeps the promises its README makes: the socket proxy alone holds the socket, on an internal network
// that only docker-sieve joins, and docker-sieve's settings are ones it accepts.
//
// Needs no daemon: it runs wherever docker-compose is installed (.ci/run installs it), and skips with a
// banner elsewhere. With CI=true a missing docker-compose is an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, SETTINGS } from '../../src/config.js';
import { findBinary } from './harness/dockerd.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const COMPOSE_DIR = join(ROOT, 'compose');
const EXAMPLES = readdirSync(COMPOSE_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(COMPOSE_DIR, entry.name, 'compose.yaml')))
  .map((entry) => entry.name)
  .sort();
/** Variables the examples require from the user (compose stops with a message when they are unset). */
const USER_ENV = { DOCKER_GID: '998' };

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
}
interface Project {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean; name?: string } | null>;
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

const mountsSocket = (service: Service): boolean => mountsOf(service).some((m) => m.source === '/var/run/docker.sock');

/** Environment as the container gets it: strings (docker-compose v1 prints `CONTAINERS: 1` as a number). */
const envOf = (service: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));

const commandOf = (service: Service): string[] => (Array.isArray(service.command) ? service.command : service.command ? [service.command] : []);

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

  it('there are the four examples, each with a README', () => {
    expect(EXAMPLES).toEqual(['homepage-tecnativa', 'remote-tls', 'traefik-wollomatic', 'uptime-kuma-linuxserver']);
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
    expect(env.PROXY_URL).toBe('http://socket-proxy:2375');
    const config = parseConfig(env);
    expect(config.containerNames.length + config.containerLabels.length, 'a filter is set').toBeGreaterThan(0);
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
