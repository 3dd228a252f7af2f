// `docker-sieve preview`: every container the upstream lists, visible or hidden, and the rule that decided.
// Users debug their filters with it before they deploy, so it also warns about likely mistakes.
import { compilePolicy, ownName, type Policy } from '../policy.js';
import { parseList, type Config, type Env } from '../config.js';
import { createUpstream, readUpstreamTls } from '../upstream.js';

export interface PreviewRow {
  readonly name: string;
  readonly id: string;
  readonly state: string;
  readonly visible: boolean;
  readonly reason: string;
}

interface ListEntry {
  Id?: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
  State?: string;
}

export function previewRows(list: readonly ListEntry[], policy: Policy): PreviewRow[] {
  return list.map((entry) => {
    const name = ownName(entry.Names) ?? '';
    const decision = policy.explain({ name, labels: entry.Labels });
    return { name: name.replace(/^\//, ''), id: (entry.Id ?? '').slice(0, 12), state: entry.State ?? '', ...decision };
  });
}

/** Likely mistakes, in the words a user can act on. Pure. */
export function previewWarnings(env: Env, list: readonly ListEntry[], config: Pick<Config, 'containerNames' | 'containerLabels'>): string[] {
  const warnings: string[] = [];
  for (const [singular, plural] of [['CONTAINER_NAME', 'CONTAINER_NAMES'], ['CONTAINER_LABEL', 'CONTAINER_LABELS']] as const) {
    if (env[singular] !== undefined && env[singular] !== '') {
      warnings.push(`${singular} is set, but docker-sieve reads ${plural} (plural); docker-proxy-filter's README example makes the same slip`);
    }
  }
  for (const variable of ['CONTAINER_NAMES', 'CONTAINER_LABELS']) {
    const raw = env[variable];
    if (raw !== undefined && raw.split(',').length !== parseList(raw).length) {
      warnings.push(`${variable} has an empty item ("${raw}"); it is ignored, but check for a stray comma`);
    }
  }
  if (config.containerNames.length === 0 && config.containerLabels.length === 0) {
    warnings.push('neither CONTAINER_NAMES nor CONTAINER_LABELS is set: every container is visible');
  }
  if (list.length >= 2) {
    for (const value of config.containerNames) {
      const one = compilePolicy({ names: [value], labels: [] });
      if (list.every((entry) => one.visibleContainer({ name: ownName(entry.Names) ?? '', labels: null }))) {
        warnings.push(`CONTAINER_NAMES value "${value}" matches every container`);
      }
    }
    for (const rule of config.containerLabels) {
      const one = compilePolicy({ names: [], labels: [rule] });
      if (list.every((entry) => one.visibleContainer({ name: '', labels: entry.Labels }))) {
        const text = rule.value === undefined ? rule.key : `${rule.key}=${rule.value}`;
        warnings.push(`CONTAINER_LABELS rule "${text}" matches every container`);
      }
    }
  }
  return warnings;
}

export function formatTable(rows: readonly PreviewRow[]): string {
  const header = { name: 'NAME', id: 'ID', state: 'STATE', verdict: 'VISIBLE', reason: 'WHY' };
  const lines = rows.map((row) => ({ name: row.name, id: row.id, state: row.state, verdict: row.visible ? 'visible' : 'hidden', reason: row.reason }));
  const all = [header, ...lines];
  const width = (key: keyof typeof header) => Math.max(...all.map((line) => line[key].length));
  const keys = ['name', 'id', 'state', 'verdict'] as const;
  return `${all.map((line) => [...keys.map((key) => line[key].padEnd(width(key))), line.reason].join('  ')).join('\n')}\n`;
}

export interface PreviewOutput {
  write(text: string): void;
  writeError(text: string): void;
  readonly isTTY: boolean;
}

export async function runPreview(config: Config, env: Env, json: boolean, out: PreviewOutput): Promise<number> {
  const upstream = createUpstream(config.upstream, { connectTimeoutMs: config.timeouts.upstreamConnectMs, tls: readUpstreamTls(config.upstreamTls) });
  try {
    const response = await upstream.request({
      method: 'GET',
      path: '/containers/json?all=1',
      signal: AbortSignal.timeout(config.timeouts.lookupMs),
      headersTimeoutMs: config.timeouts.lookupMs,
    });
    const body = await response.body.text();
    if (response.statusCode !== 200) {
      out.writeError(`docker-sieve preview: the upstream answered ${response.statusCode}: ${body.trim().slice(0, 200)}\n`);
      return 1;
    }
    const list = JSON.parse(body) as ListEntry[];
    const policy = compilePolicy({ names: config.containerNames, labels: config.containerLabels });
    const rows = previewRows(list, policy);
    const warnings = previewWarnings(env, list, config);
    if (json || !out.isTTY) {
      out.write(`${JSON.stringify({ containers: rows, warnings }, null, 2)}\n`);
    } else {
      out.write(formatTable(rows));
      const visible = rows.filter((row) => row.visible).length;
      out.write(`\n${visible} visible, ${rows.length - visible} hidden\n`);
      for (const warning of warnings) out.writeError(`warning: ${warning}\n`);
    }
    return 0;
  } catch (error) {
    out.writeError(`docker-sieve preview: cannot reach the upstream: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await upstream.close();
  }
}
