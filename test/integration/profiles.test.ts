// Profiles on the real chain: ONE docker-sieve process (CONFIG_FILE) in front of the HAProxy socket proxy over the
// private dockerd. Three listeners (TCP, mTLS, a unix socket bound to a profile), token and certificate clients,
// default deny; the docker CLI (DOCKER_CONFIG HttpHeaders, --tlsverify, -H unix://) and dockerode as clients.
//
// The tests run in order and share the process: the reload tests come last, as they change the traefik profile.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import Docker from 'dockerode';
import { request } from 'undici';
import { makeTestCertificates, type TestCertificates } from '../support/certs.js';
import {
  docker,
  dockerCliEnv,
  dockerOk,
  dockerSock,
  freePort,
  removeContainers,
  requireIntegration,
  runContainer,
  startSocketProxy,
  type DockerResult,
  type SocketProxy,
} from './harness/index.js';
import { makeClientCertDir } from './harness/client-certs.js';
import { startSieveProcess, type LogLine, type SieveProcess } from './harness/sieve-process.js';

const describeIntegration = requireIntegration();

const NAMES = ['pf-home', 'pf-traefik', 'pf-both', 'pf-hidden', 'pf-reload'];
const SECRETS = { home: 'pf-home-secret-7c1', hidden: 'pf-hidden-secret-9d2' };

// Recognisable tokens, so a log line or an upstream request that carried one is easy to find.
const TOKENS = {
  homepage: `hp-${randomBytes(12).toString('hex')}`,
  traefik: `tr-${randomBytes(12).toString('hex')}`,
  auditor: `au-${randomBytes(12).toString('hex')}`,
  wrong: `wr-${randomBytes(12).toString('hex')}`,
};
type Who = keyof typeof TOKENS;
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const basic = (token: string): string => `Basic ${Buffer.from(`x:${token}`).toString('base64')}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The pf-* names in `docker ps` output, sorted. */
function pfNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith('pf-'))
    .sort();
}

interface Variant {
  /** traefik's label rules. */
  traefikLabels?: string[];
  /** An extra, unreferenced profile (shows in the reload's `profiles`). */
  extraProfile?: boolean;
  broken?: 'syntax' | 'unknown-key';
}

describeIntegration('profiles: one docker-sieve, a view per client (CONFIG_FILE, real chain)', () => {
  let dir: string;
  let configFile: string;
  let certs: TestCertificates;
  const certDirs: Record<string, string> = {};
  const cliConfig: Partial<Record<Who, string>> = {};
  let proxy: SocketProxy;
  let sieve: SieveProcess;
  let tcpPort: number;
  let tlsPort: number;
  let unixSock: string;
  const ids: Record<string, string> = {};

  const tcpHost = () => `tcp://127.0.0.1:${tcpPort}`;
  const tlsHost = () => `tcp://127.0.0.1:${tlsPort}`;

  function configYaml(v: Variant = {}): string {
    const traefikLabels = (v.traefikLabels ?? ['traefik.enable=true']).map((l) => JSON.stringify(l)).join(', ');
    const labelsKey = v.broken === 'unknown-key' ? 'lables' : 'labels';
    return [
      `upstream: ${proxy.url}`,
      'listeners:',
      `  - port: ${tcpPort}`,
      '    address: 127.0.0.1',
      `  - port: ${tlsPort}`,
      '    address: 127.0.0.1',
      '    tls:',
      `      cert: ${certs.serverCert}`,
      `      key: ${certs.serverKey}`,
      `      ca: ${certs.ca}`,
      `  - socket: ${unixSock}`,
      '    profile: traefik',
      '    mode: "0660"',
      'clients:',
      `  - token_file: ${join(dir, 'homepage.token')}`,
      '    profile: homepage',
      `  - token_sha256: ${sha256(TOKENS.traefik)}`,
      '    profile: traefik',
      '  - token_env: PF_AUDITOR_TOKEN',
      '    profile: auditor',
      '  - certificate: { cn: homepage }',
      '    profile: homepage',
      '  - certificate: { cn: traefik }',
      '    profile: traefik',
      'default: deny',
      'profiles:',
      '  homepage:',
      '    labels: [homepage.group]',
      '    scrub_envs: true',
      '    access: read',
      '  traefik:',
      `    ${labelsKey}: [${traefikLabels}]`,
      '    access: { actions: [restart] }',
      '  auditor:',
      '    labels: [homepage.group]',
      '    access: read',
      '    mode: audit',
      ...(v.extraProfile ? ['  extra:', '    names: [pf-nothing]'] : []),
      ...(v.broken === 'syntax' ? ['  broken: { labels: [unclosed'] : []),
      '',
    ].join('\n');
  }

  /** The docker CLI as one of the token clients (DOCKER_CONFIG with HttpHeaders), on the TCP listener. */
  function as(who: Who, args: string[], host = tcpHost()): Promise<DockerResult> {
    return docker(args, { host, env: { DOCKER_CONFIG: cliConfig[who] } });
  }
  /** The docker CLI with a client certificate, on the mTLS listener. */
  function withCert(cn: string, args: string[]): Promise<DockerResult> {
    return docker(['--tlsverify', ...args], { host: tlsHost(), env: { DOCKER_CERT_PATH: certDirs[cn] } });
  }
  function requestLines(since = 0): LogLine[] {
    return sieve.logsSince(since).filter((line) => line.msg === 'request');
  }
  /** The request line of `path` (a RegExp on the logged path) by `client`, waiting for it (it is written at the end). */
  function waitForRequest(since: number, client: string, path: RegExp): Promise<LogLine> {
    return sieve.waitForLog((line) => line.msg === 'request' && line.client === client && path.test(String(line.path)), { since, timeoutMs: 5_000 });
  }
  /** HAProxy's httplog lines (one per request it saw). */
  function proxyLines(): string[] {
    return proxy.output().split('\n').filter((line) => / docker_api /.test(line) && /"[A-Z]+ \S+ HTTP\/1\.[01]"/.test(line));
  }
  async function startedAt(name: string): Promise<string> {
    return dockerOk(['inspect', '--format', '{{.State.StartedAt}} {{.State.Running}}', name]);
  }

  beforeAll(async () => {
    await removeContainers(NAMES);
    ids['pf-home'] = await runContainer({ name: 'pf-home', labels: { 'homepage.group': 'Media' }, env: { SECRET: SECRETS.home } });
    ids['pf-traefik'] = await runContainer({ name: 'pf-traefik', labels: { 'traefik.enable': 'true' } });
    ids['pf-both'] = await runContainer({ name: 'pf-both', labels: { 'homepage.group': 'Media', 'traefik.enable': 'true' } });
    ids['pf-hidden'] = await runContainer({ name: 'pf-hidden', env: { SECRET: SECRETS.hidden } });
    ids['pf-reload'] = await runContainer({ name: 'pf-reload', labels: { 'pf.reload': 'yes' } });

    dir = mkdtempSync(join(tmpdir(), 'pf-'));
    certs = makeTestCertificates();
    certDirs.homepage = makeClientCertDir(certs, 'homepage');
    certDirs.traefik = makeClientCertDir(certs, 'traefik');
    certDirs.client = certs.clientDir; // CN=client: signed by the CA, but no client entry names it
    certDirs.stranger = certs.strangerDir; // another CA
    writeFileSync(join(dir, 'homepage.token'), `${TOKENS.homepage}\n`);
    for (const who of Object.keys(TOKENS) as Who[]) {
      const cfg = join(dir, `cli-${who}`);
      mkdirSync(cfg);
      writeFileSync(join(cfg, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${TOKENS[who]}` } }));
      cliConfig[who] = cfg;
    }
    tcpPort = await freePort();
    tlsPort = await freePort();
    unixSock = join(dir, 'traefik.sock');

    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', EVENTS: '1', POST: '1', EXEC: '1' });
    configFile = join(dir, 'sieve.yaml');
    writeFileSync(configFile, configYaml());
    sieve = await startSieveProcess({ configFile, env: { PF_AUDITOR_TOKEN: TOKENS.auditor } });
    // The resolver's events watch: name mappings then live until an event says they changed.
    await sieve.waitForLog((line) => /^resolver: watching upstream events/.test(line.msg));
  });

  afterAll(async () => {
    await sieve?.stop();
    await proxy?.stop();
    await removeContainers(NAMES);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('starts with the three listeners of the file', () => {
    expect(sieve.listeners).toEqual([`tcp://127.0.0.1:${tcpPort}`, `tls://127.0.0.1:${tlsPort}`, `unix://${unixSock}`]);
    const listening = sieve.logs().filter((line) => line.msg === 'listening');
    expect(listening.map((line) => [line.listener, line.profile ?? null])).toEqual([
      [`tcp://127.0.0.1:${tcpPort}`, null],
      [`tls://127.0.0.1:${tlsPort}`, null],
      [`unix://${unixSock}`, 'traefik'],
    ]);
  });

  // First, before anything else inspects pf-both: the cache must be cold for it.
  it('one resolver cache serves every profile: two profiles inspect pf-both, the upstream is asked once', async () => {
    const lookups = () => proxyLines().filter((line) => /"GET (\/v[0-9.]+)?\/containers\/pf-both\/json[ ?]/.test(line)).length;
    const forwards = () => proxyLines().filter((line) => line.includes(`/containers/${ids['pf-both']}/json`)).length;
    expect(lookups()).toBe(0);
    const home = await as('homepage', ['inspect', '--format', '{{.Id}}', 'pf-both']);
    expect(home.stderr).toBe('');
    expect(home.stdout.trim()).toBe(ids['pf-both']);
    const traefik = await new Docker({ host: '127.0.0.1', port: tcpPort, protocol: 'http', headers: { Authorization: basic(TOKENS.traefik) } })
      .getContainer('pf-both')
      .inspect();
    expect(traefik.Id).toBe(ids['pf-both']);
    const cert = await withCert('homepage', ['inspect', '--format', '{{.Id}}', 'pf-both']);
    expect(cert.stdout.trim()).toBe(ids['pf-both']);
    // Both answers went upstream by full ID; the name was looked up once.
    await expect.poll(forwards, { timeout: 2_000 }).toBe(3);
    expect(lookups()).toBe(1);
  });

  it('two tokens (docker CLI HttpHeaders), two views: docker ps -a', async () => {
    const home = await as('homepage', ['ps', '-a', '--format', '{{.Names}}']);
    expect(home.stderr).toBe('');
    expect(pfNames(home.stdout)).toEqual(['pf-both', 'pf-home']);
    const traefik = await as('traefik', ['ps', '-a', '--format', '{{.Names}}']);
    expect(traefik.stderr).toBe('');
    expect(pfNames(traefik.stdout)).toEqual(['pf-both', 'pf-traefik']);
  });

  it("each token client gets No such container for the other's container: inspect, logs, exec", async () => {
    for (const [who, other] of [
      ['homepage', 'pf-traefik'],
      ['traefik', 'pf-home'],
      ['homepage', 'pf-hidden'],
      ['traefik', 'pf-hidden'],
    ] as const) {
      const inspect = await as(who, ['inspect', '--type', 'container', other]);
      expect(inspect.code, `${who} inspect ${other}`).not.toBe(0);
      expect(inspect.stderr).toMatch(new RegExp(`No such (container|object): ${other}`));
      expect(inspect.stdout.trim()).toBe('[]');
      const logs = await as(who, ['logs', other]);
      expect(logs.code, `${who} logs ${other}`).not.toBe(0);
      expect(logs.stderr).toContain(`No such container: ${other}`);
      expect(inspect.stdout + inspect.stderr + logs.stdout + logs.stderr).not.toContain(ids[other]!);
    }
    // docker exec inspects the container first: the other's container (and the hidden one) does not exist.
    for (const [who, other] of [
      ['homepage', 'pf-traefik'],
      ['traefik', 'pf-home'],
      ['homepage', 'pf-hidden'],
      ['traefik', 'pf-hidden'],
    ] as const) {
      const exec = await as(who, ['exec', other, 'true']);
      expect(exec.code, `${who} exec ${other}`).not.toBe(0);
      expect(exec.stderr).toContain(`No such container: ${other}`);
    }
    // The API itself: neither profile may exec (read; actions [restart]), and the access gate says so before any
    // container is looked at, the same for the other's container as for one that does not exist.
    for (const [who, other, message] of [
      ['homepage', 'pf-traefik', 'docker-sieve: profile "homepage" is read-only: POST /containers/{ref}/exec is refused'],
      ['traefik', 'pf-home', 'docker-sieve: profile "traefik" may not exec in containers (allowed: restart)'],
    ] as const) {
      const post = (ref: string) =>
        request(`http://127.0.0.1:${tcpPort}/v1.41/containers/${ref}/exec`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKENS[who]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ Cmd: ['true'] }),
        });
      const real = await post(other);
      const nowhere = await post('pf-does-not-exist');
      expect(real.statusCode).toBe(403);
      expect(nowhere.statusCode).toBe(403);
      const body = await real.body.text();
      expect(JSON.parse(body)).toEqual({ message });
      expect(await nowhere.body.text()).toBe(body);
    }
  });

  it("dockerode with Basic x:token, Homepage's sequence: its set only, Config.Env scrubbed", async () => {
    const client = new Docker({ host: '127.0.0.1', port: tcpPort, protocol: 'http', headers: { Authorization: basic(TOKENS.homepage) } });
    const list = await client.listContainers({ all: true });
    const names = list.map((c) => c.Names.find((n) => n.lastIndexOf('/') === 0)).filter((n): n is string => n?.startsWith('/pf-') === true);
    expect(names.sort()).toEqual(['/pf-both', '/pf-home']);
    const inspect = await client.getContainer('pf-home').inspect();
    expect(inspect.Id).toBe(ids['pf-home']);
    expect(inspect.Config.Labels).toEqual({ 'homepage.group': 'Media' });
    expect(inspect.Config.Env).toEqual([]);
    expect(JSON.stringify(inspect)).not.toContain(SECRETS.home);
    const direct = await new Docker({ socketPath: dockerSock() }).getContainer('pf-home').inspect();
    expect(direct.Config.Env).toContain(`SECRET=${SECRETS.home}`);
    const stats = (await client.getContainer('pf-home').stats({ stream: false })) as unknown as { memory_stats: unknown; read: string };
    expect(stats.memory_stats).toBeDefined();
    expect(typeof stats.read).toBe('string');
    await expect(client.getContainer('pf-traefik').inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.getContainer('pf-hidden').stats({ stream: false })).rejects.toMatchObject({ statusCode: 404 });
  });

  it('two client certificates (CN=homepage, CN=traefik) on the one mTLS listener: two views', async () => {
    const home = await withCert('homepage', ['ps', '-a', '--format', '{{.Names}}']);
    expect(home.stderr).toBe('');
    expect(pfNames(home.stdout)).toEqual(['pf-both', 'pf-home']);
    const traefik = await withCert('traefik', ['ps', '-a', '--format', '{{.Names}}']);
    expect(traefik.stderr).toBe('');
    expect(pfNames(traefik.stdout)).toEqual(['pf-both', 'pf-traefik']);
    // dockerode with ca/cert/key, as Homepage's tls block configures it.
    const read = (cn: string, file: string) => readFileSync(join(certDirs[cn]!, file));
    const tlsClient = (cn: string, headers?: Record<string, string>) =>
      new Docker({ host: '127.0.0.1', port: tlsPort, protocol: 'https', ca: read(cn, 'ca.pem'), cert: read(cn, 'cert.pem'), key: read(cn, 'key.pem'), ...(headers ? { headers } : {}) });
    const viaTraefikCert = await tlsClient('traefik').listContainers({ all: true });
    expect(viaTraefikCert.map((c) => c.Names[0]!).filter((n) => n.startsWith('/pf-')).sort()).toEqual(['/pf-both', '/pf-traefik']);
    await expect(tlsClient('traefik').getContainer('pf-home').inspect()).rejects.toMatchObject({ statusCode: 404 });
    // A presented token decides before the certificate.
    const tokenOverCert = await tlsClient('homepage', { Authorization: `Bearer ${TOKENS.traefik}` }).listContainers({ all: true });
    expect(tokenOverCert.map((c) => c.Names[0]!).filter((n) => n.startsWith('/pf-')).sort()).toEqual(['/pf-both', '/pf-traefik']);
  });

  it('a certificate the CA signed but no client names gets the default (deny, 403); one from another CA is refused at the handshake', async () => {
    const unnamed = await withCert('client', ['ps']);
    expect(unnamed.code).not.toBe(0);
    expect(unnamed.stderr).toContain('docker-sieve: this client matches no configured client, and the default is deny');
    const stranger = await withCert('stranger', ['ps']);
    expect(stranger.code).not.toBe(0);
    expect(stranger.stdout).not.toContain('pf-');
    const plain = await docker(['ps'], { host: tlsHost() });
    expect(plain.code).not.toBe(0);
  });

  it('the unix-socket listener bound to traefik: docker -H unix://… ps shows the traefik set, whatever token is sent', async () => {
    const out = await docker(['ps', '-a', '--format', '{{.Names}}'], { host: `unix://${unixSock}` });
    expect(out.stderr).toBe('');
    expect(pfNames(out.stdout)).toEqual(['pf-both', 'pf-traefik']);
    // The listener decides alone: neither a wrong token (no 401) nor homepage's changes that.
    for (const who of ['wrong', 'homepage'] as const) {
      const r = await as(who, ['ps', '-a', '--format', '{{.Names}}'], `unix://${unixSock}`);
      expect(r.stderr, who).toBe('');
      expect(pfNames(r.stdout)).toEqual(['pf-both', 'pf-traefik']);
    }
  });

  it('a wrong token gets 401, no credential gets 403 (default deny), a malformed header 401', async () => {
    const wrong = await as('wrong', ['ps']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('docker-sieve: the credential presented matches no client');
    const none = await docker(['ps'], { host: tcpHost() });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('docker-sieve: this client matches no configured client, and the default is deny');

    const base = `http://127.0.0.1:${tcpPort}/v1.41/containers/json`;
    for (const [authorization, status] of [
      [`Bearer ${TOKENS.wrong}`, 401],
      [basic(TOKENS.wrong), 401],
      [`Token ${TOKENS.homepage}`, 401],
      [undefined, 403],
      [`Bearer ${TOKENS.homepage}`, 200],
    ] as const) {
      const r = await request(base, { headers: authorization === undefined ? {} : { authorization } });
      const body = await r.body.text();
      expect(r.statusCode, String(authorization)).toBe(status);
      if (status !== 200) {
        expect(JSON.parse(body)).toEqual({
          message:
            status === 401
              ? 'docker-sieve: the credential presented matches no client'
              : 'docker-sieve: this client matches no configured client, and the default is deny',
        });
      }
    }
  });

  it('access read: docker restart and docker exec of its own container are refused with 403 naming the profile', async () => {
    const before = await startedAt('pf-home');
    const restart = await as('homepage', ['restart', '-t', '0', 'pf-home']);
    expect(restart.code).not.toBe(0);
    expect(restart.stderr).toContain('docker-sieve: profile "homepage" is read-only: POST /containers/{ref}/restart is refused');
    const exec = await as('homepage', ['exec', 'pf-home', 'true']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain('docker-sieve: profile "homepage" is read-only: POST /containers/{ref}/exec is refused');
    const raw = await request(`http://127.0.0.1:${tcpPort}/v1.41/containers/pf-home/restart?t=0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.homepage}` },
    });
    expect(raw.statusCode).toBe(403);
    expect(((await raw.body.json()) as { message: string }).message).toContain('profile "homepage"');
    expect(await startedAt('pf-home')).toBe(before);
    // Refused before forwarding: the socket proxy saw no restart of pf-home.
    expect(proxyLines().filter((line) => /"POST \S*\/containers\/[^/]+\/restart/.test(line) && line.includes(ids['pf-home']!))).toEqual([]);
  });

  it('actions [restart]: restart of its own container works, of a hidden one is No such container (404), stop and exec are 403', async () => {
    const before = await startedAt('pf-traefik');
    const restart = await as('traefik', ['restart', '-t', '0', 'pf-traefik']);
    expect(restart.stderr).toBe('');
    expect(restart.code).toBe(0);
    const after = await startedAt('pf-traefik');
    expect(after).not.toBe(before);
    expect(after.endsWith(' true')).toBe(true);

    const hiddenBefore = await startedAt('pf-hidden');
    const hidden = await as('traefik', ['restart', '-t', '0', 'pf-hidden']);
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain('No such container: pf-hidden');
    const raw = await request(`http://127.0.0.1:${tcpPort}/v1.41/containers/pf-hidden/restart?t=0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.traefik}` },
    });
    expect(raw.statusCode).toBe(404);
    expect(await raw.body.json()).toEqual({ message: 'No such container: pf-hidden' });
    expect(await startedAt('pf-hidden')).toBe(hiddenBefore);

    const stop = await as('traefik', ['stop', '-t', '0', 'pf-traefik']);
    expect(stop.code).not.toBe(0);
    expect(stop.stderr).toContain('docker-sieve: profile "traefik" may not stop containers (allowed: restart)');
    expect((await startedAt('pf-traefik')).endsWith(' true')).toBe(true);
    const exec = await as('traefik', ['exec', 'pf-traefik', 'true']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain('docker-sieve: profile "traefik" may not exec in containers (allowed: restart)');
  });

  it('mode audit: the hidden container is listed and inspectable for the auditor, and the log says would-hide', async () => {
    const mark = sieve.mark();
    const list = await as('auditor', ['ps', '-a', '--format', '{{.Names}}']);
    expect(list.stderr).toBe('');
    expect(pfNames(list.stdout)).toEqual(['pf-both', 'pf-hidden', 'pf-home', 'pf-reload', 'pf-traefik']);
    const listLine = await waitForRequest(mark, 'token:auditor', /\/containers\/json/);
    expect(listLine).toMatchObject({ profile: 'auditor', decision: 'would-hide', status: 200 });

    const inspect = await as('auditor', ['inspect', '--format', '{{.Name}}', 'pf-hidden']);
    expect(inspect.stdout.trim()).toBe('/pf-hidden');
    const inspectLine = await waitForRequest(mark, 'token:auditor', /\/containers\/pf-hidden\/json/);
    expect(inspectLine).toMatchObject({ profile: 'auditor', decision: 'would-hide', status: 200 });

    // A visible container, nothing refused: an ordinary decision.
    await as('auditor', ['inspect', '--format', '{{.Name}}', 'pf-home']);
    const visibleLine = await waitForRequest(mark, 'token:auditor', /\/containers\/pf-home\/json/);
    expect(visibleLine.decision).not.toMatch(/^would-/);
  });

  it('mode audit, access read: a restart goes through and is logged would-refuse', async () => {
    const mark = sieve.mark();
    const before = await startedAt('pf-home');
    const restart = await as('auditor', ['restart', '-t', '0', 'pf-home']);
    expect(restart.stderr).toBe('');
    expect(await startedAt('pf-home')).not.toBe(before);
    const line = await waitForRequest(mark, 'token:auditor', /\/containers\/pf-home\/restart/);
    expect(line).toMatchObject({ profile: 'auditor', decision: 'would-refuse', status: 204 });
  });

  it('mode audit: docker exec goes through, the HTTP routes and the upgrade relay (with the token) log would-refuse', async () => {
    const mark = sieve.mark();
    // A detached exec: exec start is a plain POST.
    const detached = await as('auditor', ['exec', '-d', 'pf-home', 'sh', '-c', 'echo audit-exec-$((6*7)) > /pf-exec']);
    expect(detached.stderr).toBe('');
    expect(detached.code).toBe(0);
    await expect.poll(async () => (await docker(['exec', 'pf-home', 'cat', '/pf-exec'])).stdout.trim(), { timeout: 3_000 }).toBe('audit-exec-42');
    const created = await waitForRequest(mark, 'token:auditor', /\/containers\/pf-home\/exec$/);
    expect(created).toMatchObject({ profile: 'auditor', decision: 'would-refuse', status: 201 });
    // An attached exec: exec start goes through the upgrade relay, which writes the request head itself. HAProxy
    // 2.6 does not pass on the upgrade of a request that has a body (exec start has one): dockerd then answers 200,
    // and the CLI fails exactly as it does against the socket proxy itself.
    const attached = await as('auditor', ['exec', 'pf-home', 'true']);
    const direct = await docker(['exec', 'pf-home', 'true'], { host: proxy.dockerHost });
    expect({ code: attached.code, stderr: attached.stderr }).toEqual({ code: direct.code, stderr: direct.stderr });
    const relayed = await sieve.waitForLog(
      (line) => line.msg === 'request' && line.client === 'token:auditor' && line.upgrade === 'tcp' && /\/exec\/[0-9a-f]{64}\/start$/.test(String(line.path)),
      { since: mark, timeoutMs: 5_000 },
    );
    expect(relayed).toMatchObject({ method: 'POST', profile: 'auditor', decision: 'would-refuse' });
  });

  it('mode audit: a restart of a container the profile would also hide is logged as what enforce does first (would-refuse)', async () => {
    // Enforce refuses it with 403 at the access gate, before any container is looked at.
    const mark = sieve.mark();
    const restart = await as('auditor', ['restart', '-t', '0', 'pf-hidden']);
    expect(restart.stderr).toBe('');
    const line = await waitForRequest(mark, 'token:auditor', /\/containers\/pf-hidden\/restart/);
    expect(line).toMatchObject({ profile: 'auditor', status: 204 });
    expect(line.decision).toBe('would-refuse');
  });

  it('every request line has profile and client (token:…, cert:CN=…, listener:…), and no line has a token', async () => {
    const lines = requestLines();
    expect(lines.length).toBeGreaterThan(30);
    for (const line of lines) {
      expect(typeof line.profile, JSON.stringify(line)).toBe('string');
      expect(typeof line.client, JSON.stringify(line)).toBe('string');
    }
    const pairs = new Set(lines.map((line) => `${String(line.client)} ${String(line.profile)}`));
    for (const pair of [
      'token:homepage homepage',
      'token:traefik traefik',
      'token:auditor auditor',
      'cert:CN=homepage homepage',
      'cert:CN=traefik traefik',
      'listener:traefik traefik',
      // refused at the edge (401, 403): no profile
      'none none',
    ]) {
      expect(pairs, pair).toContain(pair);
    }
    for (const line of lines) {
      if (line.client === 'none') expect([401, 403], JSON.stringify(line)).toContain(line.status);
    }
    // The upgrade of exec start is logged with its client too.
    expect(lines.some((line) => line.client === 'token:auditor' && /\/exec\/[0-9a-f]+\/start/.test(String(line.path)) && line.upgrade === 'tcp')).toBe(true);
    const output = sieve.output();
    for (const token of Object.values(TOKENS)) {
      expect(output).not.toContain(token);
      expect(output).not.toContain(Buffer.from(`x:${token}`).toString('base64'));
    }
    expect(output).not.toMatch(/authorization/i);
  });

  it('the upstream never sees Authorization (HAProxy captures the header in its request log)', async () => {
    // HAProxy logs a request when its connection ends: long streams (the resolver's events watch) only at the end,
    // and the exec starts of the audit test once their connections have closed, which may be a moment after the
    // CLI exits. Exec starts went through too: the auditor's detached one (an HTTP route), its attached one (the
    // upgrade relay, which writes the request head itself) and the test's own, straight to the socket proxy.
    const execStarts = () => proxyLines().filter((line) => /"POST \S*\/exec\/[0-9a-f]+\/start HTTP/.test(line)).length;
    await expect.poll(execStarts, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    const lines = proxyLines();
    expect(lines.length).toBeGreaterThan(30);
    const captured = lines.map((line) => / \{([^}]*)\} "/.exec(line)?.[1]);
    expect(captured.filter((c) => c === undefined)).toEqual([]);
    expect(captured.filter((c) => c !== '')).toEqual([]);
    for (const token of Object.values(TOKENS)) expect(proxy.output()).not.toContain(token);
  });

  // -------------------------------------------------------------------------------------------------------------
  // Reloads: these change the traefik profile, so they come last.

  it('reload on a file change: the view changes without a restart, and an open events stream of the changed profile is closed', async () => {
    // Open streams: docker events (CLI) and HTTP GET /events as traefik; GET /events as homepage (unchanged).
    const events = spawn('docker', ['events', '--format', '{{.Actor.Attributes.name}} {{.Action}}'], {
      env: dockerCliEnv(tcpHost(), { DOCKER_CONFIG: cliConfig.traefik }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let eventsOut = '';
    events.stdout.on('data', (chunk: Buffer) => (eventsOut += chunk.toString()));
    events.stderr.on('data', (chunk: Buffer) => (eventsOut += chunk.toString()));
    const eventsExit = new Promise<number | null>((resolve) => events.once('exit', (code) => resolve(code)));
    const openStream = async (who: Who) => {
      const response = await request(`http://127.0.0.1:${tcpPort}/v1.41/events`, { headers: { authorization: `Bearer ${TOKENS[who]}` } });
      expect(response.statusCode).toBe(200);
      let ended = false;
      let text = '';
      response.body.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const done = new Promise<void>((resolve) => {
        response.body.once('end', () => ((ended = true), resolve()));
        response.body.once('error', () => ((ended = true), resolve()));
        response.body.once('close', () => ((ended = true), resolve()));
      });
      return { done, ended: () => ended, text: () => text, close: () => response.body.destroy() };
    };
    const traefikStream = await openStream('traefik');
    const homeStream = await openStream('homepage');
    try {
      // An event of pf-traefik shows on the traefik streams: they are live.
      await dockerOk(['exec', 'pf-traefik', 'true']);
      await expect.poll(() => eventsOut, { timeout: 5_000 }).toContain('pf-traefik');
      await expect.poll(() => traefikStream.text(), { timeout: 5_000 }).toContain('pf-traefik');

      const mark = sieve.mark();
      writeFileSync(configFile, configYaml({ traefikLabels: ['pf.reload=yes'] }));
      const reloaded = await sieve.waitForLog((line) => line.msg === 'config reloaded', { since: mark, timeoutMs: 5_000 });
      expect(reloaded).toMatchObject({ reason: 'file changed' });
      expect(reloaded.streamsClosed).toBeGreaterThanOrEqual(2);

      // The view, on every way in to traefik.
      await expect
        .poll(async () => pfNames((await as('traefik', ['ps', '-a', '--format', '{{.Names}}'])).stdout), { timeout: 5_000, interval: 200 })
        .toEqual(['pf-reload']);
      expect(pfNames((await docker(['ps', '-a', '--format', '{{.Names}}'], { host: `unix://${unixSock}` })).stdout)).toEqual(['pf-reload']);
      expect(pfNames((await withCert('traefik', ['ps', '-a', '--format', '{{.Names}}'])).stdout)).toEqual(['pf-reload']);
      expect(pfNames((await as('homepage', ['ps', '-a', '--format', '{{.Names}}'])).stdout)).toEqual(['pf-both', 'pf-home']);
      // No restart: the same process, started once.
      expect(sieve.exited).toBe(false);
      expect(sieve.logs().filter((line) => line.msg === 'docker-sieve starting')).toHaveLength(1);
      expect(new Set(sieve.logs().map((line) => line.pid))).toEqual(new Set([sieve.pid]));

      // The traefik streams were cut at the reload; homepage's profile did not change, its stream goes on.
      const code = await Promise.race([eventsExit, sleep(5_000).then(() => 'still running' as const)]);
      expect(code).not.toBe('still running');
      await Promise.race([traefikStream.done, sleep(5_000)]);
      expect(traefikStream.ended()).toBe(true);
      expect(homeStream.ended()).toBe(false);
      await dockerOk(['exec', 'pf-home', 'true']);
      await expect.poll(() => homeStream.text(), { timeout: 5_000 }).toContain('pf-home');
      expect(homeStream.ended()).toBe(false);
    } finally {
      events.kill('SIGKILL');
      traefikStream.close();
      homeStream.close();
    }
  });

  it('a broken edit (YAML syntax error, an unknown key) keeps the old view and the log says reload failed', async () => {
    for (const [broken, problem] of [
      ['syntax', /YAML/],
      ['unknown-key', /profiles\.traefik\.lables: unknown key; did you mean "labels"\?/],
    ] as const) {
      const mark = sieve.mark();
      writeFileSync(configFile, configYaml({ traefikLabels: ['traefik.enable=true'], broken }));
      const failed = await sieve.waitForLog((line) => line.msg === 'config reload failed; the old configuration stays in force', { since: mark, timeoutMs: 5_000 });
      expect(failed.level).toBeGreaterThanOrEqual(50);
      expect(failed.reason).toBe('file changed');
      const problems = sieve.logsSince(mark).filter((line) => line.msg === failed.msg).map((line) => String(line.problem));
      expect(problems.some((p) => problem.test(p)), problems.join('\n')).toBe(true);
      expect(problems.every((p) => p.startsWith(`${configFile}:`))).toBe(true);
      expect(sieve.logsSince(mark).filter((line) => line.msg === 'config reloaded')).toEqual([]);
      // Still the view of the last good file.
      expect(pfNames((await as('traefik', ['ps', '-a', '--format', '{{.Names}}'])).stdout), broken).toEqual(['pf-reload']);
      expect(pfNames((await as('homepage', ['ps', '-a', '--format', '{{.Names}}'])).stdout)).toEqual(['pf-both', 'pf-home']);
    }
    expect(sieve.exited).toBe(false);
  });

  it('SIGHUP reloads the file at once; on an unchanged file it cuts nothing', async () => {
    let mark = sieve.mark();
    // Write and signal at once: the SIGHUP reload reads the new file before the file watch (0.5 s poll) sees it.
    writeFileSync(configFile, configYaml({ traefikLabels: ['traefik.enable=true'], extraProfile: true }));
    sieve.signal('SIGHUP');
    const byHup = await sieve.waitForLog((line) => line.msg === 'config reloaded' && line.reason === 'SIGHUP', { since: mark, timeoutMs: 5_000 });
    expect(byHup.profiles).toEqual(['homepage', 'traefik', 'auditor', 'extra']);
    expect(pfNames((await as('traefik', ['ps', '-a', '--format', '{{.Names}}'])).stdout)).toEqual(['pf-both', 'pf-traefik']);
    // The file watch then sees the same file: a reload that changes nothing.
    const byWatch = await sieve.waitForLog((line) => line.msg === 'config reloaded' && line.reason === 'file changed', { since: mark, timeoutMs: 5_000 });
    expect(byWatch.streamsClosed).toBe(0);

    // An unchanged file: an events stream of any profile stays open.
    const response = await request(`http://127.0.0.1:${tcpPort}/v1.41/events`, { headers: { authorization: `Bearer ${TOKENS.traefik}` } });
    expect(response.statusCode).toBe(200);
    let ended = false;
    response.body.once('end', () => (ended = true));
    response.body.once('error', () => (ended = true));
    response.body.resume();
    try {
      mark = sieve.mark();
      sieve.signal('SIGHUP');
      const again = await sieve.waitForLog((line) => line.msg === 'config reloaded' && line.reason === 'SIGHUP', { since: mark, timeoutMs: 5_000 });
      expect(again.streamsClosed).toBe(0);
      await sleep(300);
      expect(ended).toBe(false);
    } finally {
      response.body.destroy();
    }
    expect(sieve.exited).toBe(false);
  });

  it('SIGTERM stops it cleanly', async () => {
    const result = await sieve.stop();
    expect(result).toEqual({ code: 0, signal: null });
    expect(sieve.logs().some((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM')).toBe(true);
  });
});
