// What the kernel says a process has used: CPU time from /proc/PID/stat (utime + stime, all its threads), so a
// figure holds on a shared machine where wall-clock throughput does not; and its resident memory.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Seconds of CPU the process has used so far, user and system. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count the fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), utime and stime: 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
}

export interface ResidentRegions {
  /** glibc's main-thread heap (`[heap]`, grown with brk): what malloc holds for the main thread. */
  brkBytes: number;
  /** Anonymous mappings: V8's heap pages and code, thread arenas, large mallocs. */
  anonymousBytes: number;
  /** File-backed pages: the node binary, shared libraries. */
  fileBytes: number;
}

/** Resident memory by kind of mapping, from /proc/PID/smaps: where a growth of RSS lives. */
export function residentRegions(pid: number): ResidentRegions {
  const regions: ResidentRegions = { brkBytes: 0, anonymousBytes: 0, fileBytes: 0 };
  let kind: keyof ResidentRegions = 'anonymousBytes';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      const name = mapping[1]!;
      kind = name === '[heap]' ? 'brkBytes' : name.startsWith('/') ? 'fileBytes' : 'anonymousBytes';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) regions[kind] += Number(rss[1]) * 1024;
  }
  return regions;
}
