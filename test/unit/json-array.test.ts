import { describe, expect, it } from 'vitest';
import { JsonArraySplitter, MalformedJsonError } from '../../src/stream/json-array.js';

function split(chunks: Buffer[]): string[] {
  const elements: string[] = [];
  const splitter = new JsonArraySplitter((element) => elements.push(element.toString('utf8')));
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  return elements;
}

/** Every way of cutting `text` in two, at every byte (inside multi-byte characters too). */
function everyCut(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'utf8');
  const cuts: Buffer[][] = [[bytes]];
  for (let at = 1; at < bytes.length; at++) cuts.push([bytes.subarray(0, at), bytes.subarray(at)]);
  // and one byte at a time
  cuts.push([...bytes].map((byte) => Buffer.from([byte])));
  return cuts;
}

const tricky = [
  '{"a":"]","b":"[{","c":"\\"}","d":"\\\\"}',
  '{"Names":["/x"],"Labels":{"rule":"Host(`a`) \\u0026\\u0026 Path(`/`)","é":"ünï ✓ 🐳"}}',
  '[1,[2,[3]],{"x":[]}]',
  '"a string, with ] and ,"',
  '12.5e3',
  'true',
  'null',
  '{}',
];

describe('JsonArraySplitter', () => {
  const input = ` \n[ ${tricky.join(' ,\n')} ]\n`;

  it.each(everyCut(input).map((chunks, i) => [i, chunks] as const))('cut %i gives the exact element bytes', (_i, chunks) => {
    expect(split(chunks)).toEqual(tricky);
  });

  it.each([
    ['[]', []],
    [' [ ] \n', []],
    ['[{"a":1}]', ['{"a":1}']],
    ['[1,2]', ['1', '2']],
  ])('%j', (text, elements) => {
    expect(split([Buffer.from(text)])).toEqual(elements);
  });

  it.each([
    ['{"not":"an array"}', 'expected a JSON array'],
    ['[{"a":1}', 'the JSON array is truncated'],
    ['[{"a":1},', 'the JSON array is truncated'],
    ['[{"a":"1', 'the JSON array is truncated'],
    ['', 'the JSON array is truncated'],
    ['[,{}]', 'expected an array element'],
    ['[{},]', 'expected an array element'],
    ['[{} {}]', 'expected "," or "]" after an element'],
    ['[{}]x', 'data after the end of the array'],
    ['[{}][{}]', 'data after the end of the array'],
  ])('%j is refused: %s', (text, message) => {
    expect(() => split([Buffer.from(text)])).toThrow(new MalformedJsonError(message));
  });

  it('holds only the element under way, not what came before it', () => {
    const splitter = new JsonArraySplitter(() => undefined);
    const element = Buffer.from(`{"pad":"${'x'.repeat(1000)}"}`);
    splitter.write(Buffer.from('['));
    for (let i = 0; i < 10_000; i++) splitter.write(Buffer.concat([element, Buffer.from(',')]));
    splitter.write(element.subarray(0, 300));
    const pending = (splitter as unknown as { pending: Buffer[] }).pending;
    expect(pending.reduce((size, chunk) => size + chunk.length, 0)).toBe(300);
  });
});
