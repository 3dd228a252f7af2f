// Target 1: the list filter in-process against JSON.parse (and JSON.parse + JSON.stringify) of the same bytes,
// interleaved round by round. The filter is the real one (src/filters/containers-list.ts, as a Transform), fed
// 64 KB chunks as a socket would feed it.
import { filterContainerList } from '../../src/filters/containers-list.js';
import { compilePolicy, ownName, type Policy } from '../../src/policy/policy.js';
import { scaledList } from '../support/static-upstream.js';
import { median } from '../support/load.js';
import { mb, times, verdict, type Row } from '../support/report.js';

const CHUNK = 64 * 1024;

function runFilter(policy: Policy, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const filter = filterContainerList(policy, undefined, { kept: 0, seen: 0 });
    filter.on('data', (chunk: Buffer) => out.push(chunk));
    filter.on('end', () => resolve(Buffer.concat(out)));
    filter.on('error', reject);
    for (let at = 0; at < body.length; at += CHUNK) filter.write(body.subarray(at, at + CHUNK));
    filter.end();
  });
}

/** What the filter must answer: the visible elements, each re-serialized (the list was built with JSON.stringify). */
function expected(policy: Policy, body: Buffer): string {
  const entries = JSON.parse(body.toString('utf8')) as Array<{ Names: string[]; Labels: Record<string, string> }>;
  const kept = entries.filter((e) => policy.visibleContainer({ name: ownName(e.Names) ?? '', labels: e.Labels }));
  return `[${kept.map((e) => JSON.stringify(e)).join(',')}]\n`;
}

export interface ListFilterOptions {
  containers: number;
  rounds: number;
  maxSeconds: number;
}

export async function listFilterScenario(options: ListFilterOptions, log: (line: string) => void): Promise<Row[]> {
  const { body } = scaledList(options.containers);
  const names = compilePolicy({ names: ['web'], labels: [] });
  // A label rule that no container matches: every hidden element's Labels must be parsed too.
  const namesAndLabels = compilePolicy({ names: ['web'], labels: [{ key: 'homepage.group', value: 'Other' }] });

  for (const policy of [names, namesAndLabels]) {
    const output = (await runFilter(policy, body)).toString('utf8');
    if (output !== expected(policy, body)) throw new Error('list filter bench: the filter output is not the expected list');
  }

  const variants: Array<[string, () => unknown]> = [
    ['JSON.parse', () => JSON.parse(body.toString('utf8'))],
    ['JSON.parse + JSON.stringify', () => JSON.stringify(JSON.parse(body.toString('utf8')))],
    ['filter, names', () => runFilter(names, body)],
    ['filter, names + labels', () => runFilter(namesAndLabels, body)],
  ];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  const warmup = 5;
  const deadline = Date.now() + options.maxSeconds * 1000;
  let rounds = 0;
  for (let round = 0; round < warmup + options.rounds && Date.now() < deadline; round++) {
    // A/B interleaved, and the order turned around every round.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const [name, run] of order) {
      const started = performance.now();
      await run();
      const elapsed = performance.now() - started;
      if (round >= warmup) samples.get(name)!.push(elapsed);
    }
    if (round >= warmup) rounds++;
  }
  const mbps = (name: string) => body.length / 1e6 / (median(samples.get(name)!) / 1000);
  const parse = mbps('JSON.parse');
  const parseStringify = mbps('JSON.parse + JSON.stringify');
  const filterNames = mbps('filter, names');
  const filterLabels = mbps('filter, names + labels');
  log(`list filter: ${rounds} rounds; JSON.parse ${parse.toFixed(0)} MB/s, +stringify ${parseStringify.toFixed(0)} MB/s, filter ${filterNames.toFixed(0)} / ${filterLabels.toFixed(0)} MB/s`);
  const size = `${options.containers.toLocaleString('en-US')} containers (${mb(body.length)})`;
  const data = { containers: options.containers, bytes: body.length, rounds, msPerRun: Object.fromEntries([...samples].map(([k, v]) => [k, median(v)])) };
  const rate = (value: number) => `${value.toFixed(0)} MB/s`;
  return [
    {
      target: '5.1',
      scenario: `List filter in-process, ${size}, CONTAINER_NAMES=web, against JSON.parse`,
      baseline: `JSON.parse ${rate(parse)}`,
      sieve: rate(filterNames),
      ratio: times(filterNames / parse),
      bar: '≥ 0.5×',
      verdict: verdict(filterNames / parse >= 0.5),
      data,
    },
    {
      target: '5.1',
      scenario: `List filter in-process, ${size}, CONTAINER_NAMES=web plus a label rule nothing matches (Labels parsed for every hidden entry), against JSON.parse`,
      baseline: `JSON.parse ${rate(parse)}`,
      sieve: rate(filterLabels),
      ratio: times(filterLabels / parse),
      bar: '≥ 0.5×',
      verdict: verdict(filterLabels / parse >= 0.5),
    },
    {
      target: '5.1',
      scenario: `List filter in-process, ${size}, CONTAINER_NAMES=web, against JSON.parse + JSON.stringify`,
      baseline: `parse + stringify ${rate(parseStringify)}`,
      sieve: rate(filterNames),
      ratio: times(filterNames / parseStringify),
      bar: '≥ 0.5×',
      verdict: verdict(filterNames / parseStringify >= 0.5),
    },
  ];
}
