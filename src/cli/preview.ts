// `docker-sieve preview`: every container the upstream lists, visible or hidden, and the rule that decided, for
// each profile (one list request judged by all of them). Users debug their filters with it before they deploy, so
// it also warns about likely mistakes.
import { compilePolicy, ownName, type Policy } from '../policy/policy.js';
import { parseList, type Config, type Env, type LabelRule } from '../config.js';
import { nearest, type ConfigFile } from '../config/file.js';
import type { Settings } from '../config/load.js';
import { describeAccess } from '../gates/access.js';
import type { ProfileMode, ProfileRules } from '../policy/profile.js';
import { createUpstream, readUpstreamTls } from '../upstream/upstream.js';

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
  warnings.push(...matchEverything(list, config.containerNames, config.containerLabels, 'CONTAINER_NAMES', 'CONTAINER_LABELS'));
  return warnings;
}

/** Likely mistakes in a config file's profile; `reached` false: no client, listener or default gives it. Pure. */
export function profileWarnings(rules: ProfileRules, list: readonly ListEntry[], reached = true): string[] {
  const warnings: string[] = [];
  if (!reached) warnings.push('no client, listener or default gives this profile: no request is judged by it');
  if (rules.names.length === 0 && rules.labels.length === 0) warnings.push('sets neither names nor labels: every container is visible');
  warnings.push(...matchEverything(list, rules.names, rules.labels, 'names', 'labels'));
  return warnings;
}

/** A rule that on its own makes every listed container visible is likely a mistake (with two or more to judge). */
function matchEverything(
  list: readonly ListEntry[],
  names: readonly string[],
  labels: readonly LabelRule[],
  namesWord: string,
  labelsWord: string,
): string[] {
  const warnings: string[] = [];
  if (list.length < 2) return warnings;
  for (const value of names) {
    const one = compilePolicy({ names: [value], labels: [] });
    if (list.every((entry) => one.visibleContainer({ name: ownName(entry.Names) ?? '', labels: null }))) {
      warnings.push(`${namesWord} value "${value}" matches every container`);
    }
  }
  for (const rule of labels) {
    const one = compilePolicy({ names: [], labels: [rule] });
    if (list.every((entry) => one.visibleContainer({ name: '', labels: entry.Labels }))) {
      const text = rule.value === undefined ? rule.key : `${rule.key}=${rule.value}`;
      warnings.push(`${labelsWord} rule "${text}" matches every container`);
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

export interface PreviewOptions {
  /** `--json`: JSON even on a terminal. */
  readonly json: boolean;
  /** `--profile NAME`: only that profile. */
  readonly profile?: string | undefined;
}

/** One profile's section of the preview. */
export interface ProfilePreview {
  readonly name: string;
  /** As describeAccess says it: `all`, `read` or `actions: restart, start`. */
  readonly access: string;
  readonly mode: ProfileMode;
  readonly containers: readonly PreviewRow[];
  readonly warnings: readonly string[];
}

/** The profiles a config file gives to some client, listener or the default. */
function reachedProfiles(file: ConfigFile): ReadonlySet<string> {
  const reached = new Set<string>();
  for (const client of file.clients) reached.add(client.profile);
  for (const listener of file.listeners ?? []) if (listener.profile !== undefined) reached.add(listener.profile);
  if (file.default !== 'deny') reached.add(file.default);
  return reached;
}

/**
 * Each profile's rows and warnings for one container list. Pure. Without a config file there is one profile,
 * `default`, and its warnings are about the environment (previewWarnings), as they always were.
 */
export function previewProfiles(settings: Pick<Settings, 'config' | 'file' | 'profiles'>, env: Env, list: readonly ListEntry[], only?: string): ProfilePreview[] {
  const file = settings.file;
  const reached = file === undefined ? undefined : reachedProfiles(file);
  const sections: ProfilePreview[] = [];
  for (const profile of settings.profiles.profiles.values()) {
    if (only !== undefined && profile.name !== only) continue;
    sections.push({
      name: profile.name,
      access: describeAccess(profile.access),
      mode: profile.mode,
      containers: previewRows(list, profile.policy),
      warnings: reached === undefined ? previewWarnings(env, list, settings.config) : profileWarnings(profile.rules, list, reached.has(profile.name)),
    });
  }
  return sections;
}

/** The heading of a profile's section in the table form. */
export function sectionHeading(section: Pick<ProfilePreview, 'name' | 'access' | 'mode'>): string {
  const mode = section.mode === 'audit' ? 'audit (nothing is hidden from its clients: what would be is only logged)' : section.mode;
  return `profile ${section.name}: access ${section.access}; mode ${mode}`;
}

/** `no profile "x"` and the names there are, for an unknown --profile. */
export function unknownProfileMessage(name: string, names: readonly string[]): string {
  const hint = nearest(name, names);
  return `no profile "${name}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; the profiles are: ${names.join(', ')}`;
}

export async function runPreview(settings: Settings, env: Env, options: PreviewOptions, out: PreviewOutput): Promise<number> {
  const names = [...settings.profiles.profiles.keys()];
  if (options.profile !== undefined && !settings.profiles.profiles.has(options.profile)) {
    out.writeError(`docker-sieve preview: ${unknownProfileMessage(options.profile, names)}\n`);
    return 1;
  }
  const config = settings.config;
  // One list request, judged by every profile.
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
    const sections = previewProfiles(settings, env, list, options.profile);
    // Without a config file (and without --profile), the output is what it was before profiles, JSON included.
    const sectioned = settings.file !== undefined || options.profile !== undefined;
    if (options.json || !out.isTTY) {
      const value = sectioned ? { profiles: sections } : { containers: sections[0]!.containers, warnings: sections[0]!.warnings };
      out.write(`${JSON.stringify(value, null, 2)}\n`);
      return 0;
    }
    sections.forEach((section, i) => {
      if (sectioned) out.write(`${i === 0 ? '' : '\n'}${sectionHeading(section)}\n`);
      out.write(formatTable(section.containers));
      const visible = section.containers.filter((row) => row.visible).length;
      out.write(`\n${visible} visible, ${section.containers.length - visible} hidden\n`);
      for (const warning of section.warnings) out.writeError(`warning: ${sectioned ? `profile ${section.name}: ` : ''}${warning}\n`);
    });
    return 0;
  } catch (error) {
    out.writeError(`docker-sieve preview: cannot reach the upstream: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await upstream.close();
  }
}
