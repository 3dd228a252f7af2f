// The splitter's member spans, and the list filter deciding on Names and Labels without parsing whole elements:
// checked against JSON.parse of the whole element, at every cut and on random elements.
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonArraySplitter, MalformedJsonError, type ObjectMembers } from '../../src/stream/json-array.js';
import { filterContainerList, visibleListEntry } from '../../src/filters/containers-list.js';
import { compilePolicy, ownName, type Policy } from '../../src/policy/policy.js';

interface Seen {
  element: string;
  /** key → value text, from the spans; undefined when the element is not an object. */
  members: Array<[string, string]> | undefined;
  escapedKeys: boolean;
}

function membersOf(element: Buffer, members: ObjectMembers | undefined): Array<[string, string]> | undefined {
  if (members === undefined) return undefined;
  const out: Array<[string, string]> = [];
  for (let k = 0; k < members.count; k++) {
    const [keyStart, keyEnd, valueStart, valueEnd] = members.spans.subarray(4 * k, 4 * k + 4);
    out.push([element.subarray(keyStart, keyEnd).toString('utf8'), element.subarray(valueStart, valueEnd).toString('utf8')]);
  }
  return out;
}

function split(chunks: Buffer[]): Seen[] {
  const seen: Seen[] = [];
  const splitter = new JsonArraySplitter(
    (element, members) =>
      seen.push({ element: element.toString('utf8'), members: membersOf(element, members), escapedKeys: members?.escapedKeys ?? false }),
    { members: true },
  );
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  return seen;
}

function everyCut(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'utf8');
  const cuts: Buffer[][] = [[bytes]];
  for (let at = 1; at < bytes.length; at++) cuts.push([bytes.subarray(0, at), bytes.subarray(at)]);
  cuts.push([...bytes].map((byte) => Buffer.from([byte])));
  return cuts;
}

const elements = [
  '{"Id":"a","Names":["/web"],"Labels":{"k":"v"}}',
  '{ "Names" : [ "/x" ] , "Labels" :null , "State":"running" }',
  '{"a":"]","b":"[{","c":"\\"}","d":"\\\\","e":{"Names":["/inner"]},"f":[1,{"g":2}],"h":-1.5e3,"i":true}',
  '{"N\\u0061mes":["/escaped"],"Labels":{"é":"ünï ✓ 🐳"}}',
  '{"Names":["/first"],"Names":["/second"]}',
  '{}',
  '[1,{"a":2}]',
  '"a string"',
  '42',
];

describe('JsonArraySplitter with members', () => {
  const input = `[ ${elements.join(' ,\n')} ]\n`;
  it.each(everyCut(input).map((chunks, i) => [i, chunks] as const))('cut %i finds every top-level member', (_i, chunks) => {
    const seen = split(chunks);
    expect(seen.map((s) => s.element)).toEqual(elements);
    for (const { element, members, escapedKeys } of seen) {
      if (!element.startsWith('{')) {
        expect(members).toBeUndefined();
        continue;
      }
      expect(members).toBeDefined();
      // Each span is a key (without quotes) and a value that JSON.parse reads as the element's value.
      const parsed = JSON.parse(element) as Record<string, unknown>;
      const last = new Map<string, string>();
      for (const [key, value] of members!) last.set(escapedKeys ? (JSON.parse(`"${key}"`) as string) : key, value);
      expect([...last.keys()]).toEqual(Object.keys(parsed));
      for (const [key, value] of last) expect(JSON.parse(value)).toEqual(parsed[key]);
      expect(escapedKeys).toBe(element.includes('"N\\u0061mes"'));
    }
  });

  it('counts duplicate keys, and value() answers the last one, as JSON.parse does', () => {
    const splitter = new JsonArraySplitter(
      (element, members) => {
        expect(members!.count).toBe(2);
        expect(members!.value(element, Buffer.from('Names'))!.toString()).toBe('["/second"]');
        expect(members!.value(element, Buffer.from('Name'))).toBeUndefined();
      },
      { members: true },
    );
    splitter.write(Buffer.from('[{"Names":["/first"],"Names":["/second"]}]'));
    splitter.end();
  });

  it.each([
    ['[{"a":1,,"b":2}]', 'unexpected "," in an object'],
    ['[{"a":1,}]', 'an object ends where a member is expected'],
    ['[{,"a":1}]', 'unexpected "," in an object'],
    ['[{"a" 1}]', 'expected a key'],
    ['[{"a""b":1}]', 'expected ":" after a key'],
    ['[{"a":}]', 'an object ends where a member is expected'],
    ['[{"a":,"b":1}]', 'unexpected "," in an object'],
    ['[{"a"}]', 'an object ends where a member is expected'],
    ['[{a:1}]', 'expected a key'],
    ['[{1:2}]', 'expected a key'],
    ['[{["a"]:2}]', 'expected a key'],
    ['[{"a":1::2}]', 'unexpected ":" in an object'],
    ['[{"a":1]]', 'an object ends with "]"'],
  ])('%j is refused: %s', (json, message) => {
    expect(() => split([Buffer.from(json)])).toThrow(new MalformedJsonError(message));
  });

  it('without members, checks only what it always checked', () => {
    const seen: string[] = [];
    const splitter = new JsonArraySplitter((element, members) => {
      expect(members).toBeUndefined();
      seen.push(element.toString());
    });
    splitter.write(Buffer.from('[{"a":1,,"b":2},{"a":1]]'));
    splitter.end();
    expect(seen).toEqual(['{"a":1,,"b":2}', '{"a":1]']);
  });

  it('lets go of a large span array after a huge element', () => {
    let spans = 0;
    const splitter = new JsonArraySplitter((_element, members) => (spans = members!.spans.length), { members: true });
    const huge = `{${Array.from({ length: 5_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    splitter.write(Buffer.from(`[${huge},{"a":1}]`));
    splitter.end();
    expect(spans).toBeLessThanOrEqual(1024);
  });
});

/** The decision as it was made before: JSON.parse of the whole element, then the policy. */
function reference(policy: Policy, element: string): boolean {
  const entry = JSON.parse(element) as { Names?: string[]; Labels?: unknown };
  const labels = entry.Labels !== null && typeof entry.Labels === 'object' ? (entry.Labels as Record<string, string>) : null;
  return policy.visibleContainer({ name: ownName(entry.Names) ?? '', labels });
}

const POLICIES: Array<[string, Policy]> = [
  ['names', compilePolicy({ names: ['web'], labels: [] })],
  ['labels', compilePolicy({ names: [], labels: [{ key: 'group', value: 'Media' }, { key: 'visible', value: undefined }] })],
  ['names and labels', compilePolicy({ names: ['web'], labels: [{ key: 'group', value: 'Media' }] })],
  ['none', compilePolicy({ names: [], labels: [] })],
];

/** A random list element: Names and Labels (maybe duplicated, escaped, null or missing) among other members. */
const name = fc.constantFrom('/web-1', '/db-2', '/x/web-alias', '/web-b/al', 'web', '/');
const labelKey = fc.constantFrom('group', 'com.group', 'visible', 'other', 'Names', 'é');
const labelValue = fc.constantFrom('Media', 'Other', 'Media-2', '', 'Names');
const labels = fc.oneof(fc.dictionary(labelKey, labelValue), fc.constant(null));
const names = fc.array(name, { maxLength: 3 });
const filler = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string(), fc.string()), fc.array(fc.string()));
const member = fc.oneof(
  names.map((v) => ['Names', v] as const),
  labels.map((v) => ['Labels', v] as const),
  fc.tuple(fc.constantFrom('Id', 'Image', 'NetworkSettings', 'Mounts', 'names', 'Label'), filler),
);
const space = fc.constantFrom('', ' ', '\n', '\t ');
const element = fc
  .tuple(fc.array(fc.tuple(member, fc.boolean(), space), { maxLength: 6 }), space)
  .map(([members, end]) => {
    const parts = members.map(([[key, value], escape, ws]) => {
      const keyText = escape ? JSON.stringify(key).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : JSON.stringify(key);
      return `${ws}${keyText}${ws}:${ws}${JSON.stringify(value)}${ws}`;
    });
    return `{${parts.join(',')}${end}}`;
  });

describe('visibleListEntry', () => {
  it.each(POLICIES)('decides as JSON.parse of the whole element would (%s)', (_title, policy) => {
    fc.assert(
      fc.property(element, (text) => {
        let decided: boolean | undefined;
        const splitter = new JsonArraySplitter((bytes, members) => (decided = visibleListEntry(policy, bytes, members)), { members: true });
        splitter.write(Buffer.from(`[${text}]`));
        splitter.end();
        expect(decided).toBe(reference(policy, text));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an element that is not an object', () => {
    const policy = POLICIES[0]![1];
    expect(() => visibleListEntry(policy, Buffer.from('[1]'), undefined)).toThrow(new MalformedJsonError('a list element is not an object'));
  });

  it('streams the same list as a whole-element reference, however the bytes are cut', async () => {
    const policy = POLICIES[2]![1];
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), async (list, rawCuts) => {
        const body = Buffer.from(`[${list.join(',')}]\n`);
        const cuts = [...new Set(rawCuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
        const points = [0, ...cuts, body.length];
        const chunks = points.slice(1).map((end, i) => body.subarray(points[i], end)).filter((c) => c.length > 0);
        const output = await text(Readable.from(chunks).pipe(filterContainerList(policy, undefined, { kept: 0, seen: 0 })));
        expect(output).toBe(`[${list.filter((e) => reference(policy, e)).join(',')}]\n`);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the policy halves the list filter uses', () => {
  it('visibleByName or visibleByLabels is visibleContainer', () => {
    for (const [, policy] of POLICIES) {
      for (const n of ['/web-1', 'db', '']) {
        for (const l of [{ group: 'Media' }, { visible: 'x' }, {}, null] as Array<Record<string, string> | null>) {
          expect(policy.visibleByName(n) || (policy.hasLabelRules && policy.visibleByLabels(l))).toBe(policy.visibleContainer({ name: n, labels: l }));
        }
      }
    }
    expect(POLICIES.map(([, policy]) => policy.hasLabelRules)).toEqual([false, true, true, false]);
  });
});

describe('filterContainerList output', () => {
  const policy = compilePolicy({ names: ['web'], labels: [] });
  const entry = (name: string, pad = '') => `{"Id":"${name}","Names":["/${name}"],"Labels":{"pad":"${pad}"}}`;
  const entries = [entry('web-1'), entry('web-2', 'x'.repeat(40)), entry('db-3'), entry('web-4'), entry('db-5'), entry('db-6'), entry('web-7'), entry('web-8')];
  const kept = `[${entries.filter((e) => e.includes('"/web')).join(',')}]\n`;
  const run = (chunks: Buffer[]) => text(Readable.from(chunks).pipe(filterContainerList(policy, undefined, { kept: 0, seen: 0 })));

  it.each([
    ['compact', `[${entries.join(',')}]`],
    ['with whitespace around the commas', `[\n  ${entries.join(' ,\n  ')}\n]\n`],
  ])('is the kept elements joined by single commas, whatever the cut (%s)', async (_title, list) => {
    const bytes = Buffer.from(list);
    expect(await run([bytes])).toBe(kept);
    for (let at = 1; at < bytes.length; at++) {
      const output = await run([bytes.subarray(0, at), bytes.subarray(at)]);
      if (output !== kept) throw new Error(`cut at ${at}: ${output}`);
    }
    expect(await run([...bytes].map((byte) => Buffer.from([byte])))).toBe(kept);
  });

  it('passes a run of kept elements on as one view of the upstream chunk, not a copy', async () => {
    const list = Buffer.from(`[${entries.join(',')}]`);
    const pushed: Buffer[] = [];
    const filter = filterContainerList(policy, undefined, { kept: 0, seen: 0 });
    filter.on('data', (chunk: Buffer) => pushed.push(chunk));
    await new Promise<void>((resolve, reject) => {
      filter.on('end', resolve).on('error', reject);
      filter.end(list);
    });
    // "[", then web-1,web-2 as one run, ",web-4", ",web-7,web-8", then "]\n".
    expect(pushed.map((chunk) => chunk.toString())).toEqual([
      '[',
      `${entries[0]},${entries[1]}`,
      `,${entries[3]}`,
      `,${entries[6]},${entries[7]}`,
      ']\n',
    ]);
    for (const chunk of pushed.slice(1, -1)) expect(chunk.buffer).toBe(list.buffer);
  });
});

describe('policy decisions against a plain reference', () => {
  it('name rules match the name without its leading slash; label rules match by substring', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '/', '-', '.', '=') , maxLength: 8 });
    fc.assert(
      fc.property(fc.array(text.filter((v) => v.length > 0), { maxLength: 3 }), text, fc.dictionary(text, text, { maxKeys: 3 }), fc.array(fc.tuple(text.filter((v) => v.length > 0), fc.option(text, { nil: undefined })), { maxLength: 3 }), (names, name, labels, rules) => {
        const policy = compilePolicy({ names, labels: rules.map(([key, value]) => ({ key, value })) });
        const bare = name.startsWith('/') ? name.slice(1) : name;
        const byName = names.some((value) => bare.includes(value));
        const byLabel = Object.entries(labels).some(([k, v]) => rules.some(([key, value]) => k.includes(key) && (value === undefined || v.includes(value))));
        const filtering = names.length > 0 || rules.length > 0;
        expect(policy.visibleContainer({ name, labels })).toBe(!filtering || byName || byLabel);
        expect(policy.visibleByName(name)).toBe(!filtering || byName);
        expect(policy.visibleByLabels(labels)).toBe(!filtering || byLabel);
        expect(policy.explain({ name, labels }).visible).toBe(!filtering || byName || byLabel);
      }),
      { numRuns: 3000 },
    );
  });
});
