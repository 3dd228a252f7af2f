// The `filters` of a list, where they name containers. Pure.
//
// - `before` and `since` in a container list (dockerd, Podman's compatible and native APIs) name a container:
//   the daemon looks it up, fails when it has none (dockerd 20.10: 500 `no such container x`), and otherwise lists
//   the containers created before (or since) it. Forwarded as they came, a hidden container's name would get a
//   list where a missing one gets an error, and the list would place it in time (measured on dockerd 20.10.24).
//   So the route judges each name first (containers-list.ts).
// - Podman's pods list filters `ctr-names`, `ctr-ids`, `ctr-status` and `ctr-number` match a pod by all its
//   containers, hidden ones included, and names and IDs by regular expression: through the pod of a visible
//   container, a hidden member's name could be spelled out letter by letter. They are refused while filtering.
//
// The query is read as the daemons read it (Go's url.ParseQuery; Podman's keys in any case, see planLibpodQuery):
// more than one `filters`, or a value that is not a JSON object, is refused rather than guessed at.
import { planLibpodQuery } from './libpod-pods-lookup.js';

export type FiltersQuery =
  | { readonly kind: 'none' }
  | { readonly kind: 'refuse'; readonly message: string }
  | {
      readonly kind: 'filters';
      /** The filters as the daemon decodes them: `{"key": ["v", ...]}` or `{"key": {"v": true}}`. */
      readonly filters: Readonly<Record<string, unknown>>;
      /** The query with `filters` replaced by these (every spelling of the key written as `filters`). */
      query(filters: Readonly<Record<string, unknown>>): string;
    };

export function readFiltersQuery(query: string): FiltersQuery {
  const plan = planLibpodQuery(query, 'filters');
  if (plan.values.length === 0) return { kind: 'none' };
  if (plan.values.length > 1) return { kind: 'refuse', message: 'docker-sieve: more than one filters parameter while container filters are active' };
  let filters: unknown;
  try {
    filters = JSON.parse(plan.values[0]!);
  } catch {
    return { kind: 'refuse', message: 'docker-sieve: filters is not valid JSON' };
  }
  if (filters === null || typeof filters !== 'object' || Array.isArray(filters)) {
    return { kind: 'refuse', message: 'docker-sieve: filters is not a JSON object' };
  }
  return {
    kind: 'filters',
    filters: filters as Record<string, unknown>,
    query: (next) => plan.query([JSON.stringify(next)]),
  };
}

/** The filter keys of a container list that name a container. */
export const CONTAINER_REF_FILTERS: readonly string[] = ['before', 'since'];

export type RefFiltersPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'refuse'; readonly message: string }
  | {
      readonly kind: 'judge';
      /** Every container ref the filters name, once each, in order, with the ref to look it up by (lookupRefOf). */
      readonly refs: ReadonlyArray<{ readonly ref: string; readonly lookupRef: string }>;
      /** The query with each ref replaced by `replacements.get(ref)` (refs not in it as they came). */
      query(replacements: ReadonlyMap<string, string>): string;
    };

/** What a container list's `filters` name, to be judged before it is forwarded. */
export function planContainerRefFilters(query: string): RefFiltersPlan {
  const read = readFiltersQuery(query);
  if (read.kind !== 'filters') return read;
  const refs: string[] = [];
  for (const key of CONTAINER_REF_FILTERS) {
    if (!Object.hasOwn(read.filters, key)) continue;
    const values = read.filters[key];
    if (Array.isArray(values) && values.every((value) => typeof value === 'string')) refs.push(...(values as string[]));
    else if (values !== null && typeof values === 'object' && !Array.isArray(values)) refs.push(...Object.keys(values));
    // Neither form: the daemon cannot decode it either, and would name nothing. Not guessed at.
    else return { kind: 'refuse', message: `docker-sieve: the ${key} filter is neither a list nor a map` };
  }
  if (refs.length === 0) return { kind: 'none' };
  const judged: Array<{ ref: string; lookupRef: string }> = [];
  for (const ref of new Set(refs)) {
    const lookupRef = lookupRefOf(ref);
    if (lookupRef === undefined) return { kind: 'refuse', message: `docker-sieve: ${JSON.stringify(ref)} in before or since is not a container name or ID` };
    judged.push({ ref, lookupRef });
  }
  return {
    kind: 'judge',
    refs: judged,
    query(replacements) {
      const next: Record<string, unknown> = { ...read.filters };
      for (const key of CONTAINER_REF_FILTERS) {
        if (!Object.hasOwn(next, key)) continue;
        const values = next[key];
        const swap = (ref: string): string => replacements.get(ref) ?? ref;
        next[key] = Array.isArray(values)
          ? (values as string[]).map(swap)
          : Object.fromEntries(Object.entries(values as Record<string, unknown>).map(([ref, value]) => [swap(ref), value]));
      }
      return read.query(next);
    },
  };
}

/** Podman's pod filters that match a pod by every container in it, hidden ones included. */
export const POD_MEMBER_FILTERS: readonly string[] = ['ctr-names', 'ctr-ids', 'ctr-status', 'ctr-number'];

/** A refusal for a pods list whose filters judge pods by all their containers; undefined if there is none. */
export function refusedPodFilters(query: string): string | undefined {
  const read = readFiltersQuery(query);
  if (read.kind === 'none') return undefined;
  if (read.kind === 'refuse') return read.message;
  const named = Object.keys(read.filters).filter((key) => POD_MEMBER_FILTERS.includes(key.toLowerCase()));
  if (named.length === 0) return undefined;
  return `docker-sieve: the pod filters ${named.join(', ')} match containers this profile may not see, and are refused while container filters are active`;
}

/**
 * The ref to look a before/since value up by: dockerd reads a name with or without its leading `/` (and a legacy
 * link as `parent/alias`), and the lookup asks `/containers/{ref}/json` segment by segment. Undefined for a value
 * with an empty segment (``, `//db`, `db/`), which no lookup path can carry: refused rather than guessed at.
 */
export function lookupRefOf(ref: string): string | undefined {
  const bare = ref.startsWith('/') ? ref.slice(1) : ref;
  if (bare.split('/').includes('')) return undefined;
  return bare;
}
