// A profile: what one client sees and may do. Resolved once at the edge (listener, token, certificate, source
// address) and carried by the request; every handler reads the request's profile and nothing else.
import type { Config } from '../config.js';
import type { ProfileSpec } from '../config/file.js';
import { auditPolicy, compilePolicy, type Policy } from './policy.js';
import type { Access } from '../gates/access.js';

export type ProfileMode = 'enforce' | 'audit';

/** A profile as configured: the env's one, or one of the config file's. */
export type ProfileRules = ProfileSpec;

export interface Profile {
  readonly name: string;
  readonly policy: Policy;
  readonly scrubEnvs: boolean;
  readonly access: Access;
  /** audit: decide as enforce would, but let the request through and log what would have happened. */
  readonly mode: ProfileMode;
  /** The rules it was compiled from, to tell on a reload whether it changed. */
  readonly rules: ProfileRules;
}

export const DEFAULT_PROFILE = 'default';

export function compileProfile(rules: ProfileRules): Profile {
  return Object.freeze({
    name: rules.name,
    policy: compilePolicy({ names: rules.names, labels: rules.labels }),
    scrubEnvs: rules.scrubEnvs,
    access: rules.access,
    mode: rules.mode,
    rules,
  });
}

/** Without a config file: one profile, `default`, from CONTAINER_NAMES, CONTAINER_LABELS and SCRUB_ENVS. */
export function envProfileRules(config: Config): ProfileRules {
  return {
    name: DEFAULT_PROFILE,
    names: config.containerNames,
    labels: config.containerLabels,
    scrubEnvs: config.scrubEnvs,
    access: { kind: 'all' },
    mode: 'enforce',
  };
}

/** Two profiles with the same rules decide the same: a reload keeps the streams of those. */
export function sameRules(a: ProfileRules, b: ProfileRules): boolean {
  return JSON.stringify(rulesKey(a)) === JSON.stringify(rulesKey(b));
}

function rulesKey(rules: ProfileRules): unknown {
  const access = rules.access.kind === 'actions' ? { kind: 'actions', actions: [...rules.access.actions].sort() } : rules.access;
  return [rules.names, rules.labels.map((l) => [l.key, l.value ?? null]), rules.scrubEnvs, access, rules.mode];
}

/** The profile an audit-mode request is served with: nothing hidden, each would-be hidden container reported. */
export function auditView(profile: Profile, onWouldHide: () => void): Profile {
  return { ...profile, policy: auditPolicy(profile.policy, onWouldHide) };
}
