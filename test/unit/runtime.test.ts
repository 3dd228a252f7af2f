// How docker-sieve's process is started, and what it loads: the Node.js flags that keep its memory flat must be
// in force however it is started (issue 13), and the pool it imports from undici's own modules must be undici's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/upstream/undici-pool.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const require = createRequire(import.meta.url);

/** The flags after `node` in the source's shebang, which tsc keeps in dist/server.js (the bin). */
function shebangFlags(): string[] {
  const first = read('src/server.ts').split('\n', 1)[0]!;
  expect(first).toMatch(/^#!\/usr\/bin\/env -S node /);
  return first.split(/\s+/).slice(3);
}

describe('runtime flags', () => {
  it('the bin bounds the young generation (--max-semi-space-size), as the memory bound needs', () => {
    expect(shebangFlags()).toContain('--max-semi-space-size=2');
  });

  it('npm start runs node with the same flags as the bin', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toBe(`node ${shebangFlags().join(' ')} dist/server.js`);
  });

  it('the image starts the bin (its shebang), for serving and for the healthcheck', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["docker-sieve"\]$/m);
    expect(dockerfile).toMatch(/ln -s \.\.\/dist\/server\.js bin\/docker-sieve/);
    expect(dockerfile).toMatch(/^HEALTHCHECK .* CMD \["docker-sieve", "healthcheck"\]$/m);
  });

  it('the built bin keeps the shebang', () => {
    let built: string;
    try {
      built = read('dist/server.js');
    } catch {
      return expect.fail('dist/server.js is missing: `npm test` builds it first (npm run build)');
    }
    expect(built.split('\n', 1)[0]).toBe(read('src/server.ts').split('\n', 1)[0]);
  });
});

describe('undici pool', () => {
  it("is undici's own Pool, with the request API on it", () => {
    expect(Pool).toBe((require('undici') as typeof import('undici')).Pool);
    expect(typeof Pool.prototype.request).toBe('function');
  });
});
