// Everything docker-sieve runs on, from the environment (with .env and flags merged in) and, with CONFIG_FILE,
// the config file: the Config, the listeners, and the profiles with how clients are told apart.
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, type Config, type Env } from '../config.js';
import { envProfileSet, fileProfileSet, type ProfileSet } from '../policy/profiles.js';
import { loadConfigFile, resolveTokens, type ConfigFile, type ListenerSpec } from './file.js';

export interface Settings {
  readonly config: Config;
  /** undefined without CONFIG_FILE. */
  readonly file: ConfigFile | undefined;
  readonly filePath: string | undefined;
  /** What to listen on: the file's listeners, or one from PORT, LISTEN_ADDRESS and TLS_*. */
  readonly listeners: readonly ListenerSpec[];
  readonly profiles: ProfileSet;
}

/** Settings the file owns, with the environment variables (and so flags) that would say the same. */
export const OWNED_BY_FILE: ReadonlyArray<{ readonly key: keyof ConfigFile; readonly variables: readonly string[] }> = [
  { key: 'upstream', variables: ['PROXY_URL'] },
  { key: 'listeners', variables: ['PORT', 'LISTEN_ADDRESS', 'TLS_CERT', 'TLS_KEY', 'TLS_CA'] },
  { key: 'profiles', variables: ['CONTAINER_NAMES', 'CONTAINER_LABELS', 'SCRUB_ENVS'] },
];

function given(env: Env, variable: string): boolean {
  const value = env[variable];
  return value !== undefined && value.trim() !== '';
}

/** The environment's default listener, as the file would write it. */
function envListener(config: Config): ListenerSpec {
  return {
    kind: 'tcp',
    port: config.port,
    address: config.listenAddress,
    tls: config.tls,
    profile: undefined,
    where: { file: 'environment', line: 0, column: 0, path: 'PORT' },
  };
}

/** A setting given both in the file (`key`) and in the environment or as a flag (`variable`). */
export class SettingClash extends ConfigError {
  constructor(
    variable: string,
    readonly key: keyof ConfigFile,
    filePath: string,
  ) {
    super(variable, `is set in the environment or as a flag, and ${filePath} sets \`${key}\`: say it in one place`);
    this.name = 'SettingClash';
  }
}

/** Loads and checks the settings. Throws ConfigError (the environment) or ConfigFileError (the file). */
export function loadSettings(env: Env): Settings {
  const filePath = env.CONFIG_FILE?.trim() || undefined;
  if (filePath === undefined) {
    const config = parseConfig(env);
    return { config, file: undefined, filePath, listeners: [envListener(config)], profiles: envProfileSet(config) };
  }
  const file = loadConfigFile(filePath);
  for (const { key, variables } of OWNED_BY_FILE) {
    if (file[key] === undefined) continue;
    const clash = variables.find((variable) => given(env, variable));
    if (clash !== undefined) throw new SettingClash(clash, key, filePath);
  }
  const config = parseConfig(file.upstream === undefined ? env : { ...env, PROXY_URL: file.upstream });
  const profiles = fileProfileSet(file, resolveTokens(file.clients, { readFile: (path) => readFileSync(path), env }));
  return { config, file, filePath, listeners: file.listeners ?? [envListener(config)], profiles };
}
