// `docker-sieve preview` against the real dockerd behind HAProxy: the exact visible and hidden sets.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dockerSock, removeContainers, requireIntegration, runContainer, startSocketProxy, type SocketProxy } from './harness/index.js';

const describeIntegration = requireIntegration();
const ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const NAMES = ['pv-web-a', 'pv-web-b', 'pv-db', 'pv-media', 'pv-linker'];

function preview(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // A clean environment: the machine's own CONTAINER_NAME, if any, must not leak into the warnings.
  const child = spawn(process.execPath, [ENTRY, 'preview', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describeIntegration('docker-sieve preview on the real chain', () => {
  let proxy: SocketProxy;

  beforeAll(async () => {
    await removeContainers(NAMES);
    await runContainer({ name: 'pv-web-a' });
    await runContainer({ name: 'pv-web-b', cmd: ['true'], detach: false });
    await runContainer({ name: 'pv-db', labels: { tier: 'db' } });
    await runContainer({ name: 'pv-media', labels: { 'homepage.group': 'Media' } });
    // Its link alias /pv-linker/pv-web puts "pv-web" among pv-db's Names: it must not make pv-db visible.
    await runContainer({ name: 'pv-linker', extraArgs: ['--link', 'pv-db:pv-web'] });
    proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1' });
  });

  afterAll(async () => {
    await proxy?.stop();
    await removeContainers(NAMES);
  });

  it('lists every container with the exact visible and hidden sets and the rule that matched', async () => {
    const result = await preview(['--json', '--container-names', 'pv-web', '--container-labels', 'homepage.group=Media'], { PROXY_URL: proxy.url });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { containers: Array<{ name: string; visible: boolean; reason: string }>; warnings: string[] };
    const ours = parsed.containers.filter((c) => c.name.startsWith('pv-'));
    const visible = ours.filter((c) => c.visible).map((c) => c.name).sort();
    const hidden = ours.filter((c) => !c.visible).map((c) => c.name).sort();
    expect(visible).toEqual(['pv-media', 'pv-web-a', 'pv-web-b']);
    expect(hidden).toEqual(['pv-db', 'pv-linker']);
    expect(ours.find((c) => c.name === 'pv-media')!.reason).toBe('label homepage.group=Media matches "homepage.group=Media"');
    expect(ours.find((c) => c.name === 'pv-web-a')!.reason).toBe('name contains "pv-web"');
    expect(parsed.warnings).toEqual([]);
  });

  it('warns about CONTAINER_NAME (singular) and a value that matches every container', async () => {
    const result = await preview(['--json'], { PROXY_URL: proxy.url, CONTAINER_NAME: 'pv-web', CONTAINER_NAMES: 'pv-,' });
    const parsed = JSON.parse(result.stdout) as { warnings: string[] };
    expect(parsed.warnings.join('\n')).toMatch(/CONTAINER_NAME is set/);
    expect(parsed.warnings.join('\n')).toMatch(/empty item/);
  });
});
