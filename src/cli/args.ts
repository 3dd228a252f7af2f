// The command line: `docker-sieve [serve|healthcheck|preview|validate|hash-token] [--flag value ...]`. Pure: argv
// in, a plan out.
import { parseArgs } from 'node:util';
import { SETTINGS, type Env } from '../config.js';

export type Command = 'serve' | 'healthcheck' | 'preview' | 'validate' | 'hash-token' | 'help' | 'version';

export interface Invocation {
  readonly command: Command;
  /** Settings given as flags, by variable name. */
  readonly flags: Readonly<Record<string, string>>;
  /** `preview --json`. */
  readonly json: boolean;
  /** `preview --profile NAME`: only that profile. */
  readonly profile?: string | undefined;
}

export class UsageError extends Error {}

const COMMANDS = new Set<Command>(['serve', 'healthcheck', 'preview', 'validate', 'hash-token']);

export function parseInvocation(argv: readonly string[]): Invocation {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    json: { type: 'boolean' },
    profile: { type: 'string' },
  };
  for (const setting of SETTINGS) options[setting.flag] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const name = positionals[0] ?? 'serve';
  if (!COMMANDS.has(name as Command)) {
    throw new UsageError(`unknown command "${name}" (use serve, healthcheck, preview, validate or hash-token)`);
  }
  const flags: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const value = values[setting.flag];
    if (typeof value === 'string') flags[setting.variable] = value;
  }
  const command: Command = values.help === true ? 'help' : values.version === true ? 'version' : (name as Command);
  const profile = typeof values.profile === 'string' ? values.profile.trim() : undefined;
  if (profile !== undefined && (command === 'serve' || command === 'healthcheck' || command === 'validate' || command === 'hash-token')) {
    throw new UsageError('--profile is only for preview');
  }
  if (profile === '') throw new UsageError('--profile needs a profile name');
  return { command, flags, json: values.json === true, profile };
}

/** Flags win over the environment, which wins over `.env` (applied before this). */
export function withFlags(env: Env, flags: Readonly<Record<string, string>>): Env {
  return { ...env, ...flags };
}

export function usage(version: string): string {
  const width = Math.max(...SETTINGS.map((s) => s.flag.length)) + 2;
  return [
    `docker-sieve ${version}: a filtering proxy for the Docker API, in front of a socket proxy.`,
    '',
    'Usage:',
    '  docker-sieve [serve] [flags]       run the proxy (the default)',
    '  docker-sieve healthcheck [flags]   exit 0 if docker-sieve and its upstream answer, 1 otherwise;',
    "                                     with --config, through a listener (or METRICS_PORT's /healthz) the file allows",
    '  docker-sieve preview [--json] [--profile NAME]',
    '                                     list every container with visible or hidden and the rule that matched,',
    '                                     one section per profile (or only NAME)',
    '  docker-sieve validate [--config FILE]',
    '                                     check the configuration file (or the environment) and exit 0 or 1;',
    '                                     each problem as FILE:LINE:COL: KEY.PATH: message',
    '  docker-sieve hash-token < FILE     print the SHA-256 of the token on standard input, for token_sha256',
    '  docker-sieve --help | --version',
    '',
    'Settings (each also an environment variable; a flag wins over the environment, which wins over .env):',
    ...SETTINGS.map((s) => `  --${s.flag.padEnd(width)}${s.variable}: ${s.help}`),
    '',
  ].join('\n');
}
