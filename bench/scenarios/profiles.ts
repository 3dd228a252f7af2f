// Issue 11: what many profiles and clients cost a request. docker-sieve runs as a process with CONFIG_FILE, twice:
// (A) one profile and one token client; (B) ten profiles and twenty clients (10 token_sha256, 5 certificate, 5
// `from` CIDR), where the token the load generator presents is the LAST token client in the file: the worst case
// of the constant-time comparison, which compares the presented digest with every client's, and the last entry of
// `clients`. Both files have the same listeners (a plain one on loopback, which the load goes to, and an mTLS one
// with a `ca`, which certificate clients need and nothing connects to), the same upstream (the static upstream),
// and the profile the request gets (`bench`, names: [web]) is the same. The same requests go to both, A/B
// interleaved round by round at 1 connection: GET /containers/{name}/json with a warm cache (the gate), judged
// against the bar, and GET /_ping, for context. A second one-profile process (A again) runs in the same rounds:
// how far two identical processes differ, the noise floor the +0.02 ms bar is read against.
//
// Just this row (after `npm run build`):  npx tsx bench/scenarios/profiles.ts [--quick] [--rounds N]
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { compare, type Comparison } from './http.js';
import { freeLoopbackPort, startSieveProcess, type SieveProcess } from '../support/sieve-process.js';
import { ms, verdict, type Row } from '../support/report.js';

/** The added median latency B may have over A, in ms. */
const BAR_MS = 0.02;
const TARGET = '11';

type Stoppable = { stop(): Promise<void> };

export interface ProfilesOptions {
  /** The static upstream. */
  upstreamUrl: string;
  /** Visible containers (under names: [web]), requested in turn. */
  names: string[];
  rounds: number;
  /** Requests per side per round, per path (autocannon takes at least 1 s a run: 2,500 fit in it here). */
  amount: number;
  /** The runner's bookkeeping, so that its signal handler stops these children too. */
  started?: <T extends Stoppable>(child: Promise<T>) => Promise<T>;
  stopped?: (child: Stoppable) => Promise<void>;
}

interface Tls {
  cert: string;
  key: string;
  ca: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A CA and a server certificate for 127.0.0.1 (EC P-256: quick to make). undefined without a working openssl. */
function makeCertificates(dir: string): Tls | undefined {
  const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    openssl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=bench-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem']);
    openssl(['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'server-key.pem', '-out', 'server.csr']);
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem']);
  } catch {
    return undefined;
  }
  return { cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem'), ca: join(dir, 'ca.pem') };
}

function listeners(port: number, tlsPort: number, tls: Tls | undefined): unknown[] {
  return [{ port, address: '127.0.0.1' }, ...(tls === undefined ? [] : [{ port: tlsPort, address: '127.0.0.1', tls }])];
}

/** The profile the load's token gets, in both files. */
const BENCH_PROFILE = { names: ['web'] };

/** (A) One profile, one token client. */
function oneProfile(upstream: string, token: string, port: number, tlsPort: number, tls: Tls | undefined): string {
  return stringify({
    upstream,
    listeners: listeners(port, tlsPort, tls),
    clients: [{ token_sha256: sha256(token), profile: 'bench' }],
    default: 'deny',
    profiles: { bench: BENCH_PROFILE },
  });
}

/**
 * (B) Ten profiles, twenty clients: tokens, certificates (cn, san, sha256) and `from` CIDRs interleaved, the
 * load's token last of all. Without TLS, the certificate clients are `from` clients instead.
 */
function tenProfiles(upstream: string, token: string, port: number, tlsPort: number, tls: Tls | undefined): string {
  const profiles = {
    monitoring: { labels: ['com.docker.compose.project=media'], access: 'read' },
    ci: { names: ['ci-', 'runner'], access: { actions: ['start', 'stop', 'restart'] } },
    backup: { names: ['db'], scrub_envs: true, access: 'read' },
    traefik: { labels: ['traefik.enable=true'], access: 'read' },
    homepage: { labels: ['homepage.href'], access: 'read' },
    logs: { names: ['web', 'api'], access: { actions: ['attach', 'wait'] } },
    audit: { names: ['web'], mode: 'audit' },
    dev: {},
    ops: { names: ['web', 'db', 'cache'], scrub_envs: true },
    bench: BENCH_PROFILE,
  };
  const others = Object.keys(profiles).filter((name) => name !== 'bench');
  const pick = (i: number): string => others[i % others.length]!;
  const tokenClient = (i: number) => ({ token_sha256: sha256(`other-token-${i}-${randomBytes(8).toString('hex')}`), profile: pick(i) });
  const certificates = [
    { cn: 'monitoring.internal' },
    { san: 'ci.example.org' },
    { sha256: randomBytes(32).toString('hex') },
    { cn: 'backup.internal' },
    { san: 'ops.example.org' },
  ];
  const cidrs = [['10.1.0.0/16'], ['192.168.50.0/24', '192.168.51.7'], ['fd00:1::/64'], ['172.20.0.5'], ['10.99.0.0/16', 'fd00:99::/48']];
  const clients: unknown[] = [];
  // 9 other tokens, 5 certificates, 5 `from`, interleaved; then the load's token, the 10th token client and the 20th client.
  for (let i = 0; i < 5; i++) {
    clients.push(tokenClient(2 * i));
    clients.push(tls === undefined ? { from: [`10.${200 + i}.0.0/16`], profile: pick(i + 3) } : { certificate: certificates[i], profile: pick(i + 3) });
    if (2 * i + 1 < 9) clients.push(tokenClient(2 * i + 1));
    clients.push({ from: cidrs[i], profile: pick(i + 5) });
  }
  clients.push({ token_sha256: sha256(token), profile: 'bench' });
  if (clients.length !== 20) throw new Error(`profiles bench: ${clients.length} clients, not 20`);
  return stringify({ upstream, listeners: listeners(port, tlsPort, tls), clients, default: 'deny', profiles });
}

function signedMs(value: number): string {
  return `${value >= 0 ? '+' : '−'}${ms(Math.abs(value))}`;
}

function summary(c: Comparison): Record<string, unknown> {
  const pick = (side: Comparison['baseline']) => side.results.map((r) => ({ requests: r.requests, p50: r.p50, p90: r.p90, p99: r.p99 }));
  return { oneProfile: pick(c.baseline), tenProfiles: pick(c.sieve), ...Object.fromEntries(Object.entries(c.references).map(([label, side]) => [label, pick(side)])) };
}

const AGAIN = 'another one-profile process (A again)';

export async function profilesScenario(options: ProfilesOptions, log: (line: string) => void): Promise<Row[]> {
  const started = options.started ?? (<T extends Stoppable>(child: Promise<T>) => child);
  const stopped = options.stopped ?? ((child: Stoppable) => child.stop());
  const dir = mkdtempSync(join(tmpdir(), 'sieve-bench-profiles-'));
  const children: SieveProcess[] = [];
  try {
    const tls = makeCertificates(dir);
    if (tls === undefined) log('profiles: openssl could not make certificates; certificate clients are `from` clients instead, and no TLS listener');
    const token = randomBytes(24).toString('base64url');
    const start = async (name: string, make: typeof oneProfile): Promise<SieveProcess> => {
      const port = await freeLoopbackPort();
      const tlsPort = await freeLoopbackPort();
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, make(options.upstreamUrl, token, port, tlsPort, tls));
      const child = await started(startSieveProcess({ CONFIG_FILE: file, LOG_LEVEL: 'info' }, [], { filePort: port }));
      children.push(child);
      return child;
    };
    const a = await start('one-profile', oneProfile);
    const b = await start('ten-profiles', tenProfiles);
    const again = await start('one-profile-again', oneProfile);
    const pair = { baseline: a.url, sieve: b.url, references: { [AGAIN]: again.url } };
    const headers = { authorization: `Bearer ${token}`, 'x-bench-client': '1' };
    const clients = tls === undefined ? '10 token, 10 from' : '10 token, 5 certificate, 5 from';
    const rows: Row[] = [];
    // The gate's request is judged; /_ping (the edge and a forward, nothing else) is shown for context: on a shared
    // two-core machine its median moves between modes from round to round, by more than the bar, for A against A too.
    for (const [what, paths, judged] of [
      [`GET /containers/{name}/json with a warm cache, ${options.names.length} containers in turn`, options.names.map((name) => `/containers/${name}/json`), true],
      ['GET /_ping', ['/_ping'], false],
    ] as const) {
      const c = await compare(pair, { paths: [...paths], headers, connections: 1, amount: options.amount, maxSeconds: 20 }, options.rounds);
      const added = c.sieve.p50 - c.baseline.p50;
      const noise = c.references[AGAIN]!.p50 - c.baseline.p50;
      log(`profiles ${paths.length > 1 ? 'gate' : '/_ping'}: one profile ${c.baseline.p50.toFixed(4)} ms, ten ${c.sieve.p50.toFixed(4)} ms (${signedMs(added)}), A again ${signedMs(noise)}`);
      rows.push(
        {
          target: TARGET,
          scenario: `Profiles (issue 11): ten profiles and twenty clients (${clients}; the load's token is the last token client) against one profile and one token client; ${what}, 1 connection: added median latency`,
          baseline: `one profile ${ms(c.baseline.p50)}`,
          sieve: ms(c.sieve.p50),
          ratio: signedMs(added),
          bar: judged ? `≤ +${BAR_MS} ms` : '—',
          verdict: judged ? verdict(added <= BAR_MS) : 'info',
          data: { clients, tls: tls !== undefined, addedMs: added, noiseMs: noise, ...summary(c) },
        },
        {
          target: TARGET,
          scenario: `Reference for the row above: ${AGAIN} instead of the ten-profile one (how far two identical processes differ)`,
          baseline: `one profile ${ms(c.baseline.p50)}`,
          sieve: ms(c.references[AGAIN]!.p50),
          ratio: signedMs(noise),
          bar: '—',
          verdict: 'info',
        },
      );
    }
    return rows;
  } finally {
    for (const child of children.reverse()) await stopped(child).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

// Standalone: its own static upstream (50 containers, live events, as the gate's), this scenario only.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { startUpstreamProcess } = await import('../support/upstream-process.js');
  const { markdownTable } = await import('../support/report.js');
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const rounds = args.includes('--rounds') ? Math.min(30, Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 1)) : quick ? 3 : 9;
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const upstream = await startUpstreamProcess({ containers: 50, events: 'live' });
  const guard = setTimeout(() => {
    log('the profiles bench ran for more than 5 minutes: stopping');
    void upstream.stop().finally(() => process.exit(2));
  }, 5 * 60_000);
  guard.unref();
  let rows: Row[] = [];
  try {
    rows = await profilesScenario(
      { upstreamUrl: upstream.url, names: Array.from({ length: 25 }, (_, i) => `web-${i * 2}`), rounds, amount: quick ? 1000 : 2500 },
      log,
    );
  } catch (error) {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    await upstream.stop();
    process.exit(2);
  }
  await upstream.stop();
  console.log(markdownTable(rows));
  process.exit(rows.some((row) => row.verdict === 'FAIL') ? 1 : 0);
}
