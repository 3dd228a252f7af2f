// `docker-sieve validate`: checks the configuration as `serve` would load it, without listening or asking the
// upstream, and exits 0 or 1. With CONFIG_FILE (--config) every problem is printed on a line of its own as
// `FILE:LINE:COL: KEY.PATH: message`: the file's own problems (all of them, see config/file.ts), a setting given
// both in the environment (or .env, or as a flag) and in the file, token files and variables that cannot be read,
// and TLS files of the file's listeners that cannot be read. Without a file, the environment is checked as
// `serve` checks it (one problem, naming the variable). On success a short summary goes to stdout.
import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from '../config.js';
import { ConfigFileError, formatIssue, loadConfigFile, yaml, resolveTokens, type ConfigFile, type ConfigFileIssue } from '../config/file.js';
import { loadSettings, SettingClash, type Settings } from '../config/load.js';
import { describeListener } from '../edge/listeners.js';
import { describeAccess } from '../gates/access.js';

export interface ValidateOutput {
  write(text: string): void;
  writeError(text: string): void;
}

export interface ValidateSources {
  /** As readFileSync: throws if the file cannot be read. */
  readFile(path: string): Buffer | string;
}

const DISK: ValidateSources = { readFile: (path) => readFileSync(path) };

export type ValidateResult = { readonly ok: true; readonly settings: Settings } | { readonly ok: false; readonly issues: readonly ConfigFileIssue[] };

/** Where a top-level key is written in the file (1-based), or line 0 when it cannot be found. */
function topLevelKeyPosition(text: string, key: string): { line: number; column: number } {
  const lineCounter = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter, uniqueKeys: false, version: '1.2' });
  if (!yaml().isMap(doc.contents)) return { line: 0, column: 0 };
  for (const pair of doc.contents.items) {
    const node = pair.key;
    if (yaml().isScalar(node) && String(node.value) === key && node.range !== undefined && node.range !== null) {
      const { line, col } = lineCounter.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return { line: 0, column: 0 };
}

/** A ConfigError as an issue: at the file's key when the file says the same, else as the environment's. */
function configErrorIssue(error: ConfigError, filePath: string | undefined, file: ConfigFile | undefined, sources: ValidateSources): ConfigFileIssue {
  const key = error instanceof SettingClash ? error.key : undefined;
  if (filePath !== undefined && file !== undefined && key !== undefined) {
    let position = { line: 0, column: 0 };
    try {
      const content = sources.readFile(filePath);
      position = topLevelKeyPosition(typeof content === 'string' ? content : content.toString('utf8'), key);
    } catch {
      // Read a moment ago; if it is gone now, the message still names the file.
    }
    return {
      file: filePath,
      ...position,
      path: key,
      message: `${error.variable} is set in the environment (or .env, or as a flag), and this file sets \`${key}\`: say it in one place`,
    };
  }
  return { file: 'environment', line: 0, column: 0, path: '', message: error.message };
}

/** TLS files of the file's listeners that cannot be read (serve would fail to start on them). */
function unreadableTlsFiles(file: ConfigFile, sources: ValidateSources): ConfigFileIssue[] {
  const issues: ConfigFileIssue[] = [];
  for (const listener of file.listeners ?? []) {
    if (listener.kind !== 'tcp' || listener.tls === undefined) continue;
    for (const field of ['cert', 'key', 'ca'] as const) {
      const path = listener.tls[field];
      if (path === undefined) continue;
      try {
        sources.readFile(path);
      } catch (error) {
        issues.push({ ...listener.where, path: `${listener.where.path}.tls.${field}`, message: `${path} cannot be read: ${(error as Error).message}` });
      }
    }
  }
  return issues;
}

/** Checks the configuration `env` describes, as serve would load it, collecting every problem it can. */
export function validateConfiguration(env: Env, sources: ValidateSources = DISK): ValidateResult {
  const filePath = env.CONFIG_FILE?.trim() || undefined;
  let file: ConfigFile | undefined;
  if (filePath !== undefined) {
    try {
      file = loadConfigFile(filePath);
    } catch (error) {
      if (error instanceof ConfigFileError) return { ok: false, issues: error.errors };
      throw error;
    }
  }
  const issues: ConfigFileIssue[] = [];
  let settings: Settings | undefined;
  try {
    settings = loadSettings(env);
  } catch (error) {
    if (error instanceof ConfigFileError) issues.push(...error.errors);
    else if (error instanceof ConfigError) {
      issues.push(configErrorIssue(error, filePath, file, sources));
      // loadSettings stops at the environment's problem; the tokens are looked at all the same.
      if (file !== undefined) {
        try {
          resolveTokens(file.clients, { readFile: (path) => sources.readFile(path), env });
        } catch (tokenError) {
          if (!(tokenError instanceof ConfigFileError)) throw tokenError;
          issues.push(...tokenError.errors);
        }
      }
    } else throw error;
  }
  if (file !== undefined) issues.push(...unreadableTlsFiles(file, sources));
  if (issues.length > 0 || settings === undefined) {
    // By place: the environment's first (line 0), then the file's by line and column.
    const sorted = issues.map((issue, order) => ({ issue, order })).sort((a, b) => a.issue.line - b.issue.line || a.issue.column - b.issue.column || a.order - b.order);
    return { ok: false, issues: sorted.map(({ issue }) => issue) };
  }
  return { ok: true, settings };
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A few lines on what the configuration sets up. Pure. */
export function validateSummary(settings: Settings): string {
  const { config, file } = settings;
  const upstream = config.upstream.kind === 'unix' ? `unix://${config.upstream.socketPath}` : config.upstream.origin + config.upstream.pathPrefix;
  const profiles = [...settings.profiles.profiles.values()].map(
    (profile) => `${profile.name} (${describeAccess(profile.access)}${profile.mode === 'audit' ? '; audit' : ''})`,
  );
  const listeners = settings.listeners.map((listener) => `${describeListener(listener)}${listener.profile === undefined ? '' : ` → ${listener.profile}`}`);
  let clients: string;
  if (file === undefined) clients = 'every client gets default';
  else {
    const kinds = (['token', 'certificate', 'from'] as const)
      .map((kind) => [kind, file.clients.filter((client) => client.kind === kind).length] as const)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${kind}`);
    clients = `${file.clients.length}${kinds.length === 0 ? '' : ` (${kinds.join(', ')})`}; default: ${file.default}`;
  }
  return [
    `${settings.filePath ?? 'environment'}: valid`,
    `  upstream:  ${upstream}`,
    `  profiles:  ${count(profiles.length, 'profile')}: ${profiles.join(', ')}`,
    `  clients:   ${clients}`,
    `  listeners: ${count(listeners.length, 'listener')}: ${listeners.join(', ')}`,
    '',
  ].join('\n');
}

/** Prints the problems (to writeError, one per line) or the summary; returns the exit code. */
export function runValidate(env: Env, out: ValidateOutput, sources: ValidateSources = DISK): number {
  const result = validateConfiguration(env, sources);
  if (result.ok) {
    out.write(validateSummary(result.settings));
    return 0;
  }
  for (const issue of result.issues) out.writeError(`${formatIssue(issue)}\n`);
  out.writeError(`docker-sieve validate: ${count(result.issues.length, 'problem')}\n`);
  return 1;
}
