// With no filters there is nothing to hide, so docker-sieve must be invisible: the docker CLI says exactly the
// same, exit code, stdout and stderr, straight to the socket proxy and through docker-sieve.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  dockerSock,
  removeContainers,
  requireIntegration,
  runContainer,
  startSieve,
  startSocketProxy,
  type RunningSieve,
  type SocketProxy,
} from './harness/index.js';

const describeIntegration = requireIntegration();

const MISSING = 'no-such-container-xyz';
const EXISTING = 'transparent-exists';
const COMMANDS: string[][] = [
  ['rm', '-f', MISSING],
  ['wait', MISSING],
  ['restart', MISSING],
  ['inspect', MISSING],
  ['logs', MISSING],
  ['kill', MISSING],
  ['inspect', '--format', '{{.Name}} {{.Config.Env}}', EXISTING],
  ['logs', EXISTING],
];

describeIntegration('with no filters, docker-sieve is invisible to the docker CLI', () => {
  beforeAll(async () => {
    await removeContainers([EXISTING]);
    await runContainer({ name: EXISTING, env: { GREETING: 'hello' }, cmd: ['sh', '-c', 'echo transparent says hi; exec sleep 3600'] });
  });
  afterAll(async () => {
    await removeContainers([EXISTING]);
  });

  describe.each([['0'], ['1']])('socket proxy with CONTAINERS=1 POST=%s', (post) => {
    let proxy: SocketProxy;
    let sieve: RunningSieve;
    beforeAll(async () => {
      proxy = await startSocketProxy(dockerSock(), { CONTAINERS: '1', POST: post });
      sieve = await startSieve({ PROXY_URL: proxy.url });
    });
    afterAll(async () => {
      await sieve?.app.close();
      await proxy?.stop();
    });

    it.each(COMMANDS.map((args) => [args.join(' '), args]))('docker %s', async (_name, args) => {
      const straight = await docker(args as string[], { host: proxy.dockerHost });
      const through = await docker(args as string[], { host: sieve.host });
      expect(through).toEqual(straight);
      // The rows that tell the two behaviours apart: the socket proxy's refusal of a write, or the daemon's own
      // 404 (which `rm -f` shrugs off).
      const write = args[0] !== 'inspect' && args[0] !== 'logs';
      if (write && args.at(-1) === MISSING) {
        if (post === '0') {
          expect(straight.code).toBe(1);
          expect(straight.stderr).toContain('403 Forbidden');
        } else if (args[0] !== 'rm') {
          expect(straight.code).toBe(1);
          expect(straight.stderr).toContain(`No such container: ${MISSING}`);
        }
      }
    });
  });
});
