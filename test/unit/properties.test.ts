// Property tests: the classifier against a reference model written as a table, the list filter against random
// chunkings, and the path parser against arbitrary input.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyTarget } from '../../src/docker/target.js';
import { filterContainerList } from '../../src/filters/containers-list.js';
import { compilePolicy } from '../../src/policy/policy.js';

const GET_ACTIONS = 'json|export|changes|top|logs|stats|archive|checkpoints|attach/ws';
const POST_ACTIONS = 'kill|pause|unpause|restart|start|stop|wait|resize|attach|exec|rename|update|copy|checkpoints';

/** The reference: what dockerd's router does with a cleaned path, as a table of (method, pattern, kind). */
const REFERENCE: Array<[string, RegExp, string]> = [
  ['GET', /^\/containers\/json$/, 'containers-list'],
  ['POST', /^\/containers\/create$/, 'container-create'],
  ['POST', /^\/containers\/prune$/, 'containers-prune'],
  ['GET', new RegExp(`^/containers/(.+)/(${GET_ACTIONS})$`), 'container'],
  ['HEAD', /^\/containers\/(.+)\/(archive)$/, 'container'],
  ['PUT', /^\/containers\/(.+)\/(archive)$/, 'container'],
  ['POST', new RegExp(`^/containers/(.+)/(${POST_ACTIONS})$`), 'container'],
  ['DELETE', /^\/containers\/(.+)()$/, 'container'],
  ['*', /^\/containers(\/.*)?$/, 'refuse'],
  ['GET', /^\/events$/, 'events'],
  ['GET', /^\/system\/df$/, 'system-df'],
  ['GET', /^\/networks$/, 'networks-list'],
  ['GET', /^\/exec\/(.+)\/(json)$/, 'exec'],
  ['POST', /^\/exec\/(.+)\/(start|resize)$/, 'exec'],
  ['*', /^\/exec(\/.*)?$/, 'refuse'],
];

type Reference = { kind: string; ref?: string; action?: string; status?: number };

function reference(method: string, raw: string): Reference {
  if (!raw.startsWith('/')) return { kind: 'refuse', status: 400 };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { kind: 'refuse', status: 400 };
  }
  if (decoded.includes('\0') || /%(2f|00|25)/i.test(decoded)) return { kind: 'refuse', status: 400 };
  let path = posix.normalize(`/${decoded}`).replace(/\/+$/, '') || '/';
  path = path.replace(/^\/[vV][0-9.]+(?=\/|$)/, '') || '/';
  if (/^\/(containers|exec)(\/|$)/i.test(path) && !/^\/(containers|exec)(\/|$)/.test(path)) return { kind: 'refuse', status: 404 };
  for (const [m, pattern, kind] of REFERENCE) {
    if (m !== '*' && m !== method) continue;
    const match = pattern.exec(path);
    if (match === null) continue;
    if (kind === 'container' || kind === 'exec') return { kind, ref: match[1], action: match[2] };
    return kind === 'refuse' ? { kind, status: 404 } : { kind };
  }
  return { kind: 'pass' };
}

const segment = fc.oneof(
  fc.constantFrom('containers', 'CONTAINERS', 'json', 'create', 'prune', 'web-a', 'db', 'parent', 'alias', 'logs', 'attach', 'ws'),
  fc.constantFrom('archive', 'exec', 'start', 'resize', 'events', 'system', 'df', 'networks', 'kill', '.', '..', '', 'v1.41', 'V1.24'),
  fc.stringMatching(/^[a-z0-9_.-]{1,6}$/),
);

/** Percent-encodes some characters, as a client (or an attacker) may. */
function encodeSome(path: string, mask: number[]): string {
  return [...path].map((ch, i) => ((mask[i % mask.length] ?? 0) % 4 === 0 ? `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}` : ch)).join('');
}

const target = fc
  .tuple(
    fc.option(fc.constantFrom('/v1.41', '/V1.41', '/v1.23', '/v01.041'), { nil: '' }),
    fc.array(segment, { minLength: 0, maxLength: 6 }),
    fc.array(fc.nat(7), { minLength: 1, maxLength: 8 }),
    fc.boolean(),
  )
  .map(([version, segments, mask, encode]) => {
    const path = `${version}/${segments.join('/')}`;
    return encode ? encodeSome(path, mask) : path;
  });

const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');

describe('classifyTarget matches the reference table', () => {
  it('for random paths, methods, encodings, dot segments and version prefixes', () => {
    fc.assert(
      fc.property(method, target, (m, path) => {
        const expected = reference(m, path);
        const actual = classifyTarget(m, path);
        const kinds = new Set(['container-create', 'containers-prune', 'containers-list', 'events', 'system-df', 'networks-list', 'refuse', 'container', 'exec']);
        const actualKind = kinds.has(actual.kind) ? actual.kind : 'pass';
        expect({ path, kind: actualKind }).toEqual({ path, kind: expected.kind });
        if (actual.kind === 'container') expect({ ref: actual.ref, action: actual.action }).toEqual({ ref: expected.ref, action: expected.action });
        if (actual.kind === 'exec') expect({ id: actual.id, action: actual.action }).toEqual({ id: expected.ref, action: expected.action });
        if (actual.kind === 'refuse') expect(actual.status).toBe(expected.status);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws, whatever the method and target', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: 'binary' }), (m, url) => {
        classifyTarget(m, url);
        classifyTarget('constructor', '/containers/x/json');
        classifyTarget('__proto__', '/containers/x/json');
        classifyTarget('GET', `/${url}`);
        classifyTarget('GET', `http://x/${url}`);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('filterContainerList under random chunkings', () => {
  const recorded = readFileSync(new URL('../../fixtures/containers-list.v1.41.json', import.meta.url));
  const policy = compilePolicy({ names: ['web'], labels: [{ key: 'com.example.visible', value: 'true' }] });
  const filter = async (chunks: Buffer[]) => text(Readable.from(chunks).pipe(filterContainerList(policy, undefined, { kept: 0, seen: 0 })));

  it('gives the same output however the bytes are cut', async () => {
    const whole = await filter([recorded]);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: recorded.length - 1 }), { maxLength: 40 }), async (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), recorded.length];
        const chunks = points.slice(1).map((end, i) => recorded.subarray(points[i], end));
        expect(await filter(chunks)).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });
});
