// The profiles in force and how a client is told apart, as one immutable value: a reload builds a new one and
// swaps it in at once, so a request is judged from start to end by the set it started with.
import type { Config } from '../config.js';
import { compileProfile, DEFAULT_PROFILE, envProfileRules, type Profile } from './profile.js';
import type { ConfigFile } from '../config/file.js';
import { compileIdentity, type Identity, type IdentityFacts } from '../edge/identity.js';

export interface ProfileSet {
  readonly profiles: ReadonlyMap<string, Profile>;
  identify(facts: IdentityFacts): Identity;
  /** True when some client is told apart by a token: then an Authorization header is ours, not the upstream's. */
  readonly usesTokens: boolean;
}

/** Without a config file: one profile, `default`, that every client gets, as docker-sieve always did. */
export function envProfileSet(config: Config): ProfileSet {
  const profile = compileProfile(envProfileRules(config));
  const identity: Identity = Object.freeze({ kind: 'profile', profile: DEFAULT_PROFILE, client: 'default' });
  return Object.freeze({ profiles: new Map([[DEFAULT_PROFILE, profile]]), identify: () => identity, usesTokens: false });
}

/** From a parsed config file and its token digests (resolveTokens). */
export function fileProfileSet(file: ConfigFile, tokenDigests: ReadonlyMap<ConfigFile['clients'][number], Buffer>): ProfileSet {
  const profiles = new Map<string, Profile>();
  for (const [name, spec] of file.profiles) profiles.set(name, compileProfile(spec));
  return Object.freeze({
    profiles,
    identify: compileIdentity(file.clients, tokenDigests, file.default),
    usesTokens: file.clients.some((client) => client.kind === 'token'),
  });
}
