// The `filters` of a list where they name containers (src/filters/list-filters.ts): read as the daemons read them.
import { describe, expect, it } from 'vitest';
import { lookupRefOf, planContainerRefFilters, readFiltersQuery, refusedPodFilters } from '../../src/filters/list-filters.js';

const q = (filters: unknown, rest = 'all=1'): string => `${rest}&filters=${encodeURIComponent(typeof filters === 'string' ? filters : JSON.stringify(filters))}`;
const filtersOf = (query: string): unknown => JSON.parse(new URLSearchParams(query).get('filters')!);

describe('planContainerRefFilters: which refs a container list names', () => {
  it.each([
    ['no filters', 'all=1', 'none', []],
    ['filters without before or since', q({ name: ['db'], status: ['running'] }), 'none', []],
    ['an empty filters value (the daemon reads none)', 'filters=', 'none', []],
    ['before, list form (dockerode, docker-py)', q({ before: ['db'] }), 'judge', ['db']],
    ['since, map form (the docker CLI)', q({ since: { db: true } }), 'judge', ['db']],
    ['a false in the map form still names it (Args.WalkValues)', q({ before: { db: false } }), 'judge', ['db']],
    ['both, several values, repeated once', q({ before: ['a', 'b'], since: { a: true } }), 'judge', ['a', 'b']],
    ['the key in another case (Podman reads the query key in any case)', `FILTERS=${encodeURIComponent('{"before":["db"]}')}`, 'judge', ['db']],
    ['the key with a long s (strings.EqualFold)', `filter%C5%BF=${encodeURIComponent('{"before":["db"]}')}`, 'judge', ['db']],
    ['a + for a space, as url.ParseQuery reads it', 'filters={"before":["my+db"]}', 'judge', ['my db']],
    ['a name with its leading /', q({ since: ['/db'] }), 'judge', ['/db']],
  ])('%s', (_title, query, kind, refs) => {
    const plan = planContainerRefFilters(query);
    expect(plan.kind).toBe(kind);
    if (plan.kind === 'judge') {
      expect(plan.refs.map((r) => r.ref)).toEqual(refs);
      for (const { ref, lookupRef } of plan.refs) expect(lookupRef).toBe(lookupRefOf(ref));
    }
  });

  it.each([
    ['two filters parameters', `${q({ name: ['x'] })}&filters=${encodeURIComponent('{"before":["db"]}')}`],
    ['two spellings of the key', `filters=${encodeURIComponent('{}')}&Filters=${encodeURIComponent('{"before":["db"]}')}`],
    ['filters that are not JSON', q('{"before":["db"]')],
    ['filters that are a list', q(['before', 'db'])],
    ['filters that are a string', q('"before=db"')],
    ['before that is a string', q({ before: 'db' })],
    ['before with a number in the list', q({ before: ['db', 3] })],
    ['since that is null', q({ since: null })],
    ['a ref with an empty segment', q({ before: ['db', '//db'] })],
    ['an empty ref', q({ since: { '': true } })],
  ])('refuses %s: not guessed at', (_title, query) => {
    expect(planContainerRefFilters(query).kind).toBe('refuse');
  });

  it('names each ref as the route says, in the form it came, under one filters key; the rest of the query as it came', () => {
    const plan = planContainerRefFilters(`all=1&limit=3&${q({ before: ['web', 'db'], name: ['x'] }, 'size=1')}`);
    expect(plan.kind).toBe('judge');
    if (plan.kind !== 'judge') return;
    const query = plan.query(new Map([['web', 'a'.repeat(64)], ['db', 'placeholder']]));
    expect(query.startsWith('all=1&limit=3&size=1&filters=')).toBe(true);
    expect(filtersOf(query)).toEqual({ before: ['a'.repeat(64), 'placeholder'], name: ['x'] });
    const map = planContainerRefFilters(`FILTERS=${encodeURIComponent('{"since":{"db":true},"label":{"a=b":true}}')}`);
    if (map.kind !== 'judge') throw new Error(map.kind);
    const mapped = map.query(new Map([['db', 'p']]));
    expect(mapped.startsWith('filters=')).toBe(true);
    expect(filtersOf(mapped)).toEqual({ since: { p: true }, label: { 'a=b': true } });
    // A ref not replaced (a missing container) goes as it came.
    expect(filtersOf(map.query(new Map()))).toEqual({ since: { db: true }, label: { 'a=b': true } });
  });

  it('readFiltersQuery leaves a query without filters alone', () => {
    expect(readFiltersQuery('all=1&limit=2')).toEqual({ kind: 'none' });
  });
});

describe('refusedPodFilters: pod filters that look at every container of a pod', () => {
  it.each([
    ['no filters', '', false],
    ['name, label, status: about the pod itself', q({ name: ['media'], label: ['a=b'], status: ['running'] }, ''), false],
    ['ctr-names (an unanchored regexp over every member)', q({ 'ctr-names': ['db'] }, ''), true],
    ['ctr-ids', q({ 'ctr-ids': ['abc'] }, ''), true],
    ['ctr-status', q({ 'ctr-status': ['exited'] }, ''), true],
    ['ctr-number (hidden members are counted)', q({ 'ctr-number': ['3'] }, ''), true],
    ['a key in another case', q({ 'CTR-NAMES': ['db'] }, ''), true],
    ['filters that are not JSON', q('{', ''), true],
    ['two filters parameters', `${q({}, '')}&filters=${encodeURIComponent('{"ctr-names":["db"]}')}`, true],
  ])('%s → refused: %s', (_title, query, refused) => {
    const message = refusedPodFilters(query.replace(/^&/, ''));
    expect(message !== undefined).toBe(refused);
    if (refused) expect(message).toMatch(/^docker-sieve: /);
  });
});

describe('lookupRefOf: the ref a before/since value is looked up by', () => {
  it.each<[string, string | undefined]>([
    ['db', 'db'],
    ['/db', 'db'],
    ['parent/alias', 'parent/alias'],
    ['/parent/alias', 'parent/alias'],
    ['0123abcd', '0123abcd'],
    ['', undefined],
    ['/', undefined],
    ['//db', undefined],
    ['db/', undefined],
    ['a//b', undefined],
  ])('%j → %j', (ref, want) => {
    expect(lookupRefOf(ref)).toBe(want);
  });
});
