// The list filter on a list recorded from a real dockerd, split at every byte boundary.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { filterContainerList, planListQuery } from '../../src/filters/containers-list.js';
import { compilePolicy, ownName } from '../../src/policy/policy.js';
import { parseLabelRules, parseList } from '../../src/config.js';

const recorded = readFileSync(new URL('../../fixtures/containers-list.v1.41.json', import.meta.url));
const entries = JSON.parse(recorded.toString('utf8')) as Array<{ Names: string[]; Labels: Record<string, string> }>;

function policy(names: string, labels = '') {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

async function run(chunks: Buffer[], names: string, labels = '', limit?: number): Promise<string> {
  const summary = { kept: 0, seen: 0 };
  return text(Readable.from(chunks).pipe(filterContainerList(policy(names, labels), limit, summary)));
}

function names(output: string): string[] {
  return (JSON.parse(output) as Array<{ Names: string[] }>).map((entry) => ownName(entry.Names)!);
}

describe('filterContainerList on a recorded list', () => {
  it('is a real list with a link alias in it', () => {
    expect(entries.map((e) => ownName(e.Names))).toEqual(['/r3-link', '/job-exited', '/db-hidden', '/web-b', '/web-a']);
    expect(entries.some((e) => e.Names.includes('/r3-link/al'))).toBe(true);
  });

  it.each([
    ['web', '', ['/web-b', '/web-a']],
    ['', 'homepage.group=Media', ['/web-a']],
    ['', 'com.example.visible=true', ['/r3-link', '/job-exited', '/web-b', '/web-a']],
    ['job', 'homepage', ['/job-exited', '/web-b', '/web-a']],
    // `/r3-link/al` is web-a's link alias: it must not make web-a visible to CONTAINER_NAMES=r3
    ['r3', '', ['/r3-link']],
    ['nothing-matches', '', []],
    ['', '', ['/r3-link', '/job-exited', '/db-hidden', '/web-b', '/web-a']],
  ])('names=%j labels=%j keeps %j', async (nameRule, labelRule, expected) => {
    const output = await run([recorded], nameRule, labelRule);
    expect(names(output)).toEqual(expected);
  });

  it('emits kept elements exactly as the daemon wrote them', async () => {
    const output = await run([recorded], 'web');
    const kept = JSON.parse(output) as unknown[];
    expect(output.startsWith('[')).toBe(true);
    expect(output.endsWith(']\n')).toBe(true);
    // Each kept element's bytes stand in the recorded body as they are.
    const inner = output.slice(1, -2);
    for (const part of inner.split(/,(?=\{"Id")/)) expect(recorded.toString('utf8')).toContain(part);
    expect(kept).toHaveLength(2);
  });

  it('gives the same output for every split of the input into two chunks', async () => {
    const whole = await run([recorded], 'web', 'homepage.group=Media');
    for (let at = 1; at < recorded.length; at++) {
      const output = await run([recorded.subarray(0, at), recorded.subarray(at)], 'web', 'homepage.group=Media');
      if (output !== whole) throw new Error(`split at byte ${at} changed the output`);
    }
  });

  it('gives the same output when fed one byte at a time', async () => {
    const whole = await run([recorded], 'web');
    const bytes = [...recorded].map((byte) => Buffer.from([byte]));
    expect(await run(bytes, 'web')).toBe(whole);
  });

  it('applies limit to visible containers only', async () => {
    expect(names(await run([recorded], '', 'com.example.visible=true', 2))).toEqual(['/r3-link', '/job-exited']);
    expect(names(await run([recorded], 'web', '', 1))).toEqual(['/web-b']);
  });
});

describe('planListQuery', () => {
  it.each([
    ['', '', undefined],
    ['all=1', 'all=1', undefined],
    ['limit=2', 'all=1', 2],
    ['limit=2&all=0&size=1', 'size=1&all=1', 2],
    ['limit=1&limit=5', 'all=1', 1],
    ['limit=-1&all=1', 'limit=-1&all=1', undefined],
    ['limit=0', 'limit=0', undefined],
    ['limit=abc', 'limit=abc', undefined],
    ['filters=%7B%22label%22%3A%5B%22a%22%5D%7D&limit=3', 'filters=%7B%22label%22%3A%5B%22a%22%5D%7D&all=1', 3],
  ])('%j → upstream %j, limit %s', (query, upstreamQuery, limit) => {
    expect(planListQuery(query)).toEqual({ upstreamQuery, limit });
  });
});
