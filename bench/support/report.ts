// The bench's output: one row per figure, printed as a markdown table and written as JSON.
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

export type Verdict = 'PASS' | 'FAIL' | 'SKIPPED' | 'info';

export interface Row {
  /**
   * Which target this row measures, as issue.target (`13.1`: issue 13, target 1; `11`: issue 11's bar), or
   * undefined for a figure shown for context.
   */
  target?: string;
  scenario: string;
  baseline: string;
  sieve: string;
  ratio: string;
  bar: string;
  verdict: Verdict;
  /** The raw numbers behind the row. */
  data?: Record<string, unknown>;
}

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGb: number;
  node: string;
  platform: string;
  kernel: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: os.cpus() it is
  }
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    kernel = process.platform;
  }
  return {
    nproc: cpus().length,
    cpu,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel,
  };
}

export function markdownTable(rows: readonly Row[]): string {
  const header = ['scenario', 'baseline', 'docker-sieve', 'ratio', 'target', 'result'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const result = row.verdict === 'PASS' || row.verdict === 'FAIL' ? `**${row.verdict}**` : row.verdict;
    const cells = [row.target === undefined ? row.scenario : `${row.target}. ${row.scenario}`, row.baseline, row.sieve, row.ratio, row.bar, result];
    lines.push(`| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Milliseconds, with enough digits for sub-millisecond figures. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value < 10 ? `${value.toFixed(3)} ms` : value < 100 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

export function times(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function perSecond(value: number, unit = 'req/s'): string {
  return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
}

export function verdict(pass: boolean): Verdict {
  return pass ? 'PASS' : 'FAIL';
}
