#!/usr/bin/env node
/**
 * Record raw Docker Engine API responses into fixtures/ from a REAL dockerd.
 *
 *   sudo node scripts/record-fixtures.mjs            # writes fixtures/*
 *   sudo node scripts/record-fixtures.mjs --out DIR  # writes elsewhere
 *
 * Plain JavaScript on purpose (Node 20 cannot run .ts without a loader). It
 * starts its own private dockerd exactly like test/integration/harness/dockerd.ts
 * (same flags: unix socket only, --bridge=none --iptables=false --ip-masq=false,
 * every container --network none), imports the same local/busybox:1 image,
 * creates a small fixed scene, records the bodies byte for byte, and tears
 * everything down. Nothing but unix sockets is used.
 *
 * Needs root, dockerd (docker.io), the docker CLI, tar and /bin/busybox.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 && process.argv[outArg + 1] ? resolve(process.argv[outArg + 1]) : join(ROOT, 'fixtures');
const IMAGE = 'local/busybox:1';
const API = 'v1.41';
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('[record-fixtures]', ...a);

// ---------------------------------------------------------------------------
// raw HTTP over the unix socket

/** @returns {Promise<{status:number, headers:string[][], body:Buffer}>} */
function api(sock, method, path, body) {
  return new Promise((resolveP, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const headers = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
          resolveP({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function apiOk(sock, method, path, body) {
  const r = await api(sock, method, path, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} -> ${r.status}: ${r.body.toString()}`);
  return r;
}

// ---------------------------------------------------------------------------
// docker CLI (sanitized env, empty DOCKER_CONFIG)

function dockerSync(host, cfgDir, args, input) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(DOCKER_|BUILDKIT_|COMPOSE_)/.test(k) || /^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  Object.assign(env, { DOCKER_HOST: host, DOCKER_CONFIG: cfgDir, NO_PROXY: '*', DOCKER_CLI_HINTS: 'false' });
  const r = spawnSync('docker', args, { env, input, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? String(r.error ?? '') };
}

// ---------------------------------------------------------------------------
// private dockerd (mirrors test/integration/harness/dockerd.ts)

async function startDockerd() {
  const dir = mkdtempSync('/tmp/ds-');
  const sock = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  const args = [
    '--host', `unix://${sock}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'dockerd.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false',
    '--containerd-namespace', `sieve-${dir.slice(-6)}`,
    '--containerd-plugins-namespace', `sieve-${dir.slice(-6)}-plugins`,
  ];
  const child = spawn('dockerd', args, { env: { PATH: PATH_ENV, HOME: '/root', LANG: 'C.UTF-8' }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const cfgDir = join(dir, 'cli-config');
  mkdirSync(cfgDir);
  const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
  const stop = async () => {
    if (!exited) {
      const ids = dockerSync(`unix://${sock}`, cfgDir, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
      if (ids.length) dockerSync(`unix://${sock}`, cfgDir, ['rm', '-f', '-v', ...ids]);
      child.kill('SIGTERM');
      for (let i = 0; i < 150 && !exited; i++) await sleep(100);
      if (!exited) child.kill('SIGKILL');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
    }
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      log(`could not remove ${dir}: ${e}`);
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const t = tail();
      await stop();
      throw new Error(`dockerd exited during startup:\n${t}`);
    }
    try {
      const r = await api(sock, 'GET', '/_ping');
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      const t = tail();
      await stop();
      throw new Error(`dockerd not ready after 60 s:\n${t}`);
    }
    await sleep(200);
  }
  return { dir, sock, host: `unix://${sock}`, cfgDir, stop };
}

function ensureImage(d) {
  if (dockerSync(d.host, d.cfgDir, ['image', 'inspect', IMAGE]).code === 0) return;
  const root = mkdtempSync(join(tmpdir(), 'ds-rootfs-'));
  try {
    mkdirSync(join(root, 'bin'));
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const a of ['sh', 'sleep', 'echo', 'cat', 'ls', 'tail', 'head', 'true', 'env']) symlinkSync('busybox', join(root, 'bin', a));
    const tar = spawnSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    const r = dockerSync(d.host, d.cfgDir, ['import', '-', IMAGE], tar.stdout);
    if (r.code !== 0) throw new Error(`docker import: ${r.stderr}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function run(d, name, { labels = {}, env = {}, cmd = ['sleep', '3600'], detach = true, extra = [] } = {}) {
  const args = ['run', '--network', 'none', '--name', name];
  if (detach) args.push('-d');
  for (const [k, v] of Object.entries(labels)) args.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(env)) args.push('--env', `${k}=${v}`);
  args.push(...extra, IMAGE, ...cmd);
  const r = dockerSync(d.host, d.cfgDir, args);
  return r;
}

function must(r, what) {
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr}`);
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) throw new Error('must run as root (it starts a private dockerd)');
  mkdirSync(OUT, { recursive: true });
  const d = await startDockerd();
  const notes = [];
  try {
    ensureImage(d);
    const version = JSON.parse((await apiOk(d.sock, 'GET', `/${API}/version`)).body.toString());
    log(`dockerd ${version.Version} (API ${version.ApiVersion}, min ${version.MinAPIVersion}) at ${d.sock}`);

    const since = Math.floor(Date.now() / 1000) - 1;
    await sleep(1100);

    must(
      run(d, 'web-a', {
        labels: { 'homepage.group': 'Media', 'homepage.name': 'Web A', 'com.example.visible': 'true', 'traefik.enable': 'true' },
        env: { SECRET: 'hunter2', TZ: 'UTC' },
        cmd: ['sh', '-c', 'echo web-a up; exec sleep 3600'],
      }),
      'run web-a',
    );
    must(
      run(d, 'web-b', {
        labels: { 'homepage.group': 'Infra', 'com.example.visible': 'true', 'traefik.enable': 'true' },
      }),
      'run web-b',
    );
    must(
      run(d, 'db-hidden', {
        labels: { 'com.example.visible': 'false' },
        env: { SECRET: 'hunter2', POSTGRES_PASSWORD: 'hunter2' },
      }),
      'run db-hidden',
    );
    const job = run(d, 'job-exited', { labels: { 'com.example.visible': 'true' }, cmd: ['sh', '-c', 'echo done; exit 3'], detach: false });
    if (job.code !== 3) throw new Error(`job-exited should exit with 3, got ${job.code}: ${job.stderr}`);

    // Legacy link: needs the default bridge in principle; try it with --network none.
    const link = run(d, 'r3-link', { labels: { 'com.example.visible': 'true' }, extra: ['--link', 'web-a:al'] });
    let linkAliasRecorded = false;
    if (link.code !== 0) {
      notes.push(`\`docker run --network none --link web-a:al\` failed (${link.stderr.trim()}); no link alias in the fixtures.`);
    } else {
      const list = JSON.parse((await apiOk(d.sock, 'GET', `/${API}/containers/json?all=1`)).body.toString());
      linkAliasRecorded = list.some((c) => c.Names.includes('/r3-link/al'));
      const viaAlias = await api(d.sock, 'GET', `/${API}/containers/r3-link/al/json`);
      const aliasTarget = viaAlias.status === 200 ? JSON.parse(viaAlias.body.toString()).Name : `HTTP ${viaAlias.status}`;
      notes.push(
        linkAliasRecorded
          ? `\`r3-link\` was started with \`--network none --link web-a:al\`; the list shows \`/r3-link/al\` among web-a's Names and \`/containers/r3-link/al/json\` returns ${aliasTarget}.`
          : `\`r3-link\` was created with \`--network none --link web-a:al\` but the daemon registered no alias (\`/r3-link/al\` is not in any Names; \`/containers/r3-link/al/json\` gives ${aliasTarget}). With --bridge=none and --network none, legacy links are not registered, so the fixtures contain no link alias.`,
      );
    }

    // Exec on web-a: create, start detached, wait until it finished.
    const webA = JSON.parse((await apiOk(d.sock, 'GET', `/${API}/containers/web-a/json`)).body.toString());
    const exec = JSON.parse(
      (await apiOk(d.sock, 'POST', `/${API}/containers/${webA.Id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo hi'] })).body.toString(),
    );
    await apiOk(d.sock, 'POST', `/${API}/exec/${exec.Id}/start`, { Detach: true, Tty: false });
    let execInspect;
    for (let i = 0; i < 50; i++) {
      execInspect = await apiOk(d.sock, 'GET', `/${API}/exec/${exec.Id}/json`);
      if (JSON.parse(execInspect.body.toString()).Running === false) break;
      await sleep(100);
    }

    await sleep(1100);
    const until = Math.floor(Date.now() / 1000);

    const write = (file, data) => {
      writeFileSync(join(OUT, file), data);
      log(`wrote ${file} (${data.length} bytes)`);
    };
    write(`containers-list.${API}.json`, (await apiOk(d.sock, 'GET', `/${API}/containers/json?all=1`)).body);
    write(`container-inspect.${API}.json`, (await apiOk(d.sock, 'GET', `/${API}/containers/web-a/json`)).body);
    const ev = await apiOk(d.sock, 'GET', `/${API}/events?since=${since}&until=${until}`);
    write(`events.${API}.ndjson`, ev.body);
    write(`system-df.${API}.json`, (await apiOk(d.sock, 'GET', `/${API}/system/df`)).body);
    write(`network-inspect-none.${API}.json`, (await apiOk(d.sock, 'GET', `/${API}/networks/none`)).body);
    write(`exec-inspect.${API}.json`, execInspect.body);
    write(`version.${API}.json`, (await apiOk(d.sock, 'GET', `/${API}/version`)).body);
    const ping = await api(d.sock, 'HEAD', '/_ping');
    write('ping-head.headers.json', Buffer.from(`${JSON.stringify({ method: 'HEAD', path: '/_ping', status: ping.status, headers: ping.headers }, null, 2)}\n`));

    const evCount = ev.body.toString().split('\n').filter(Boolean).length;
    const evType = ev.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    writeReadme({ version, since, until, evCount, evType, notes, linkAliasRecorded, execId: exec.Id });
  } finally {
    await d.stop();
  }
}

function writeReadme({ version, since, until, evCount, evType, notes }) {
  const text = `# Recorded Docker Engine API fixtures

Raw response bodies (exact bytes, after HTTP de-chunking) from a real daemon,
recorded by \`scripts/record-fixtures.mjs\`. Do not edit them by hand; re-record.

## How

\`\`\`sh
sudo node scripts/record-fixtures.mjs     # as root; Node 20, plain JS
\`\`\`

The script starts a private dockerd on a unix socket under a fresh \`/tmp/ds-*\`
directory (\`--bridge=none --iptables=false --ip-masq=false\`, the same flags as
\`test/integration/harness/dockerd.ts\`), imports \`local/busybox:1\` (only
\`/bin/busybox\` plus applet symlinks, built from Debian's busybox-static), creates
the scene below with the docker CLI (every container \`--network none\`), records
the responses over the unix socket, then removes everything.

- Daemon: dockerd ${version.Version} (API ${version.ApiVersion}, min API ${version.MinAPIVersion}), ${version.Os}/${version.Arch}, kernel ${version.KernelVersion}, Go ${version.GoVersion}
- Storage driver: whatever the daemon picked on the host (overlay2 here); cgroup v1, cgroupfs.
- Recorded: ${new Date().toISOString().slice(0, 10)}

## Scene

| name | state | labels | env |
|---|---|---|---|
| \`web-a\` | running (\`sh -c 'echo web-a up; exec sleep 3600'\`) | \`homepage.group=Media\`, \`homepage.name=Web A\`, \`com.example.visible=true\`, \`traefik.enable=true\` | \`SECRET=hunter2\`, \`TZ=UTC\` |
| \`web-b\` | running (\`sleep 3600\`) | \`homepage.group=Infra\`, \`com.example.visible=true\`, \`traefik.enable=true\` | none (\`Config.Env\` is \`null\`) |
| \`db-hidden\` | running | \`com.example.visible=false\` | \`SECRET=hunter2\`, \`POSTGRES_PASSWORD=hunter2\` |
| \`job-exited\` | exited with code 3 | \`com.example.visible=true\` | none |
| \`r3-link\` | running, \`--link web-a:al\` | \`com.example.visible=true\` | none |

Then one exec on \`web-a\` (\`sh -c 'echo hi'\`, created, started detached, finished).

Link aliases: ${notes.join(' ')}

## Files

| file | request |
|---|---|
| \`containers-list.v1.41.json\` | \`GET /v1.41/containers/json?all=1\` |
| \`container-inspect.v1.41.json\` | \`GET /v1.41/containers/web-a/json\` (has \`Config.Env\` with \`SECRET=hunter2\`) |
| \`events.v1.41.ndjson\` | \`GET /v1.41/events?since=${since}&until=${until}\`: ${evCount} events from the creation of the scene and the exec, one JSON object per line (Content-Type \`${evType}\`) |
| \`system-df.v1.41.json\` | \`GET /v1.41/system/df\` |
| \`network-inspect-none.v1.41.json\` | \`GET /v1.41/networks/none\` (its \`Containers\` map holds every container above) |
| \`exec-inspect.v1.41.json\` | \`GET /v1.41/exec/{id}/json\` for the finished exec (\`ContainerID\` is web-a) |
| \`version.v1.41.json\` | \`GET /v1.41/version\` |
| \`ping-head.headers.json\` | \`HEAD /_ping\`: status and the raw response headers in order, names as sent by the daemon (written by the script; not a daemon body) |

IDs, timestamps, PIDs and hostnames are whatever the daemon produced at recording time.
`;
  // Keep the libpod section, which scripts/record-libpod-fixtures.mjs writes between its markers.
  let kept = '';
  try {
    const old = readFileSync(join(OUT, 'README.md'), 'utf8');
    const begin = old.indexOf('<!-- libpod-fixtures:begin');
    const end = old.indexOf('<!-- libpod-fixtures:end -->');
    if (begin !== -1 && end !== -1) kept = `\n${old.slice(begin, end + '<!-- libpod-fixtures:end -->'.length)}\n`;
  } catch {
    // no README yet
  }
  writeFileSync(join(OUT, 'README.md'), text + kept);
  log('wrote README.md');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
