import { describe, expect, it } from 'vitest';
import { compilePolicy, ownName } from '../../src/policy/policy.js';
import { parseLabelRules, parseList } from '../../src/config.js';

function policy(names: string | undefined, labels: string | undefined) {
  return compilePolicy({ names: parseList(names), labels: parseLabelRules(labels) });
}

describe('CONTAINER_NAMES (docker-proxy-filter README: CONTAINER_NAMES=foo,bar)', () => {
  const p = policy('foo,bar', undefined);
  it.each([
    ['myproject-foo-1', true],
    ['coolthingbar-2', true],
    ['other-container', false],
    ['/myproject-foo-1', true],
    ['FOO', false], // case-sensitive
    ['fo', false],
  ])('%s visible: %s', (name, visible) => {
    expect(p.visibleContainer({ name, labels: {} })).toBe(visible);
  });

  it('ignores only the leading slash', () => {
    expect(policy('/web', undefined).visibleContainer({ name: '/web', labels: {} })).toBe(false);
    expect(policy('b/c', undefined).visibleContainer({ name: '/a-b/c', labels: {} })).toBe(true);
  });
});

describe('CONTAINER_LABELS (docker-proxy-filter README: CONTAINER_LABELS=myfoo,com.bar=fun)', () => {
  const p = policy(undefined, 'myfoo,com.bar=fun');
  it.each([
    ['A: something=cool, com.something=nice, com.bar=fun', { something: 'cool', 'com.something': 'nice', 'com.bar': 'fun' }, true],
    ['B: com.myfoo.aaa=yo', { something: 'cool', 'com.myfoo.aaa': 'yo', 'com.myfoo.bbb': 'hey', 'com.bar': 'sad' }, true],
    ['com.bar=sad alone', { 'com.bar': 'sad' }, false],
    ['something=cool alone', { something: 'cool' }, false],
    ['value contains the filter value', { 'com.bar.x': 'funny' }, true],
    ['the key must contain the filter key', { 'com.baz': 'fun' }, false],
    ['a value matching another label key does not count', { 'com.bar': 'x', other: 'fun' }, false],
    ['no labels', {}, false],
    ['null labels', null, false],
  ])('%s', (_title, labels, visible) => {
    expect(p.visibleContainer({ name: 'anything', labels })).toBe(visible);
  });
});

describe('either list', () => {
  const p = policy('web', 'homepage.group=Media');
  it.each([
    ['web-a', {}, true],
    ['db', { 'homepage.group': 'Media' }, true],
    ['db', { 'homepage.group': 'Other' }, false],
    ['db', {}, false],
  ])('%s %j', (name, labels, visible) => {
    expect(p.visibleContainer({ name, labels })).toBe(visible);
  });
});

describe('list parsing', () => {
  it('trims values and drops empty items, so "foo," does not match everything', () => {
    const p = policy('foo, ,', undefined);
    expect(p.filtering).toBe(true);
    expect(p.visibleContainer({ name: 'bar', labels: {} })).toBe(false);
    expect(p.visibleContainer({ name: 'a-foo', labels: {} })).toBe(true);
  });

  it('keeps duplicate label keys with different values', () => {
    const p = policy(undefined, 'tier=front, tier=back');
    expect(p.visibleContainer({ name: 'x', labels: { tier: 'back' } })).toBe(true);
    expect(p.visibleContainer({ name: 'x', labels: { tier: 'front' } })).toBe(true);
    expect(p.visibleContainer({ name: 'x', labels: { tier: 'db' } })).toBe(false);
  });

  it('with neither list, everything is visible', () => {
    const p = policy(undefined, ' , ');
    expect(p.filtering).toBe(false);
    expect(p.visibleContainer({ name: 'anything', labels: null })).toBe(true);
  });
});

describe('explain', () => {
  const p = policy('foo', 'homepage');
  it.each([
    ['x-foo', {}, true, 'name contains "foo"'],
    ['x', { 'homepage.group': 'Media' }, true, 'label homepage.group=Media matches "homepage"'],
    ['x', {}, false, 'no name or label rule matches'],
  ])('%s %j', (name, labels, visible, reason) => {
    expect(p.explain({ name, labels })).toEqual({ visible, reason });
  });
});

describe('ownName', () => {
  it.each([
    [['/web-a'], '/web-a'],
    [['/r3-link/al', '/web-a'], '/web-a'], // legacy link aliases come first when sorted
    [['/a/b', '/c/d'], undefined],
    [[], undefined],
    [null, undefined],
  ])('%j → %s', (names, expected) => {
    expect(ownName(names)).toBe(expected);
  });

  it('a link alias never makes a container visible', () => {
    const p = policy('web', undefined);
    const names = ['/web-a/db-alias', '/db-hidden'];
    expect(p.visibleContainer({ name: ownName(names) ?? '', labels: {} })).toBe(false);
  });
});
