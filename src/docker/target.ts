// Classifies a request target the way dockerd's router would see it, and says what docker-sieve must do.
// Pure: no I/O, no Fastify. The daemon routes on the percent-decoded, cleaned path, so we decode and clean
// first, judge that, and forward exactly the path we judged.

export interface ApiVersion {
  /** As written after the `v`, e.g. `1.41`. */
  readonly text: string;
  readonly major: number;
  readonly minor: number;
}

/** Which API a target belongs to: the Docker Engine API (and Podman's compatible one), or Podman's native libpod. */
export type Api = 'docker' | 'libpod';

interface Common {
  readonly api: Api;
  /** undefined when the request has no `/vX.Y` prefix. */
  readonly version: ApiVersion | undefined;
  /** The raw query string without `?`, forwarded as the client sent it. */
  readonly query: string;
}

export type Target =
  | (Common & {
      readonly kind: 'refuse';
      readonly status: 400 | 404;
      readonly message: string;
      /** The cleaned path, when there is one: with nothing to hide, the daemon gets to say what it is. */
      readonly path: string | undefined;
    })
  | (Common & { readonly kind: 'pass'; readonly path: string })
  /**
   * A family docker-sieve does not filter: Podman's native API, or one the classifier does not know. While
   * filtering it is refused, since it may carry container data; with nothing to hide it passes.
   */
  | (Common & { readonly kind: 'unfiltered'; readonly path: string; readonly message: string })
  | (Common & { readonly kind: 'containers-list'; readonly path: string })
  /** POST /containers/create: the body may name other containers (network mode, links, volumes-from). */
  | (Common & { readonly kind: 'container-create'; readonly path: string })
  | (Common & { readonly kind: 'containers-prune'; readonly path: string })
  /** POST /commit?container=, POST /build?networkmode=container:: a container ref in the query. */
  | (Common & { readonly kind: 'commit'; readonly path: string })
  | (Common & { readonly kind: 'build'; readonly path: string })
  | (Common & { readonly kind: 'events'; readonly path: string })
  | (Common & { readonly kind: 'system-df'; readonly path: string })
  | (Common & { readonly kind: 'networks-list'; readonly path: string })
  | (Common & { readonly kind: 'network'; readonly path: string; readonly id: string })
  /** POST /networks/{id}/connect|disconnect: `{"Container": ref}` in the body. */
  | (Common & { readonly kind: 'network-connect'; readonly path: string })
  | (Common & {
      readonly kind: 'exec';
      readonly path: string;
      /** What goes before `/exec` in the path to forward: `/v1.41`, `/v4.3.1/libpod`. */
      readonly base: string;
      readonly id: string;
      readonly action: 'json' | 'start' | 'resize';
    })
  /** GET /libpod/containers/stats: several containers (`containers=`), one stream. */
  | (Common & { readonly kind: 'containers-stats'; readonly path: string })
  /** GET /libpod/generate/kube?names=, GET /libpod/generate/{ref}/systemd: they export env and command lines. */
  | (Common & { readonly kind: 'generate'; readonly path: string; readonly format: 'kube' | 'systemd'; readonly ref: string | undefined })
  | (Common & { readonly kind: 'pods-list'; readonly path: string })
  /** GET /libpod/pods/stats?namesOrIDs=. */
  | (Common & { readonly kind: 'pods-stats'; readonly path: string })
  | (Common & {
      readonly kind: 'pod';
      readonly path: string;
      readonly base: string;
      readonly ref: string;
      /** `json`, `exists`, `top`, `start`, ...; empty for DELETE. */
      readonly action: string;
    })
  | (Common & { readonly kind: 'swarm-list'; readonly path: string; readonly resource: SwarmResource })
  | (Common & {
      readonly kind: 'swarm-object';
      readonly path: string;
      readonly resource: SwarmResource;
      readonly id: string;
      /** What follows the ID (`logs`, `update`), or empty. */
      readonly action: string;
    })
  | (Common & {
      readonly kind: 'container';
      /** The cleaned path as the client sent it, ref and all. */
      readonly path: string;
      /** What goes before `/containers` in the path to forward: `/v1.41`, `/v4.3.1/libpod`. */
      readonly base: string;
      /** The container reference as the daemon would read it (decoded; may contain `/`). */
      readonly ref: string;
      /** What follows the ref, e.g. `json`, `attach/ws`; empty for `DELETE /containers/{ref}`. */
      readonly action: string;
    });

export type SwarmResource = 'services' | 'tasks';

/** Actions after `/containers/{ref}/`, per method, as registered by dockerd's router. */
const CONTAINER_ACTIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  GET: new Set(['json', 'export', 'changes', 'top', 'logs', 'stats', 'attach/ws', 'archive', 'checkpoints']),
  HEAD: new Set(['archive']),
  POST: new Set([
    'kill', 'pause', 'unpause', 'restart', 'start', 'stop', 'wait', 'resize', 'attach', 'exec', 'rename',
    'update', 'copy', 'checkpoints',
  ]),
  PUT: new Set(['archive']),
};

const PAGE_NOT_FOUND = 'page not found';
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
const VERSION_SEGMENT = /^[vV]([0-9.]+)$/;
// After one decoding pass these can only come from double encoding: nobody names a container like that.
const DOUBLE_ENCODED = /%(2f|00|25)/i;

export function parseApiVersion(text: string): ApiVersion {
  // dockerd compares versions part by part with Atoi; a part that does not parse counts as 0.
  const [major = 0, minor = 0] = text.split('.').map((part) => (/^[0-9]+$/.test(part) ? Number(part) : 0));
  return { text, major, minor };
}

/** Docker answers errors in plain text for API 1.23 and below, in JSON otherwise. */
export function errorsArePlainText(version: ApiVersion | undefined): boolean {
  return version !== undefined && (version.major < 1 || (version.major === 1 && version.minor <= 23));
}

/** Decodes percent-encoding once and cleans the path like Go's path.Clean; undefined if it cannot. */
export function decodeAndClean(rawPath: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || DOUBLE_ENCODED.test(decoded)) return undefined;
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return segments;
}

/** Percent-encodes a decoded path again, one segment at a time, keeping characters the daemon reads as is. */
export function encodePath(segments: readonly string[]): string {
  return (
    '/' +
    segments
      .map((segment) => encodeURIComponent(segment).replace(/%3A/g, ':').replace(/%40/g, '@').replace(/%2C/g, ','))
      .join('/')
  );
}

export function classifyTarget(method: string, rawUrl: string): Target {
  let target = rawUrl;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute !== null) target = target.slice(absolute[0].length) || '/';

  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt + 1);

  if (!rawPath.startsWith('/')) {
    return { kind: 'refuse', status: 400, message: 'malformed request target', path: undefined, version: undefined, query, api: 'docker' };
  }
  const segments = decodeAndClean(rawPath);
  if (segments === undefined) {
    return { kind: 'refuse', status: 400, message: 'malformed request path', path: undefined, version: undefined, query, api: 'docker' };
  }

  let version: ApiVersion | undefined;
  const versionMatch = segments.length > 0 ? VERSION_SEGMENT.exec(segments[0]!) : null;
  if (versionMatch !== null) {
    version = parseApiVersion(versionMatch[1]!);
    segments.shift();
  }
  const prefix = version === undefined ? '' : `/v${version.text}`;
  const family = segments[0];
  const rest = segments.slice(1);
  const path = prefix + encodePath(segments);
  const api: Api = 'docker';
  const context: FamilyContext = { method, rest, prefix, base: prefix, path, version, query, api };

  if (family !== undefined) {
    // Own keys only: a path segment such as `__proto__` must not reach Object.prototype.
    if (Object.hasOwn(FAMILIES, family)) return FAMILIES[family]!(context);
    if (PASSED_FAMILIES.has(family)) return { kind: 'pass', path, version, query, api };
    const lower = family.toLowerCase();
    if (Object.hasOwn(FAMILIES, lower) || PASSED_FAMILIES.has(lower)) {
      // The daemon matches case-sensitively (404); refusing keeps a case-insensitive socket proxy honest.
      return { kind: 'refuse', status: 404, message: PAGE_NOT_FOUND, path, version, query, api };
    }
  }
  // Not a family of the Docker API: a Podman route with a version docker-sieve does not parse
  // (`/v4.0.0-dev/containers/json`), a debug endpoint, a future family. It may carry container data.
  return { kind: 'unfiltered', path, message: unknownFamilyMessage(segments), version, query, api };
}

function unknownFamilyMessage(segments: readonly string[]): string {
  const shown = segments.length === 0 ? '/' : `/${segments[0]!.slice(0, 64)}`;
  return `docker-sieve: ${shown} is not an API path docker-sieve knows how to filter, so it is refused while container filters are active`;
}

export const LIBPOD_REFUSED =
  "docker-sieve does not filter Podman's native API (/libpod/...), so it is refused while container filters are active; " +
  'the Docker-compatible API on the same socket (without /libpod) is filtered and works';

/**
 * Families of the Docker API that say nothing about a container, passed on unchanged: the socket proxy decides
 * whether they are reachable at all. Each is in the README's table, with why it is safe.
 */
const PASSED_FAMILIES: ReadonlySet<string> = new Set([
  '_ping', 'version', 'info', 'auth', 'images', 'volumes', 'plugins', 'swarm', 'nodes', 'secrets', 'configs',
  'distribution', 'session', 'grpc',
]);

/** Podman's native API answers these without naming a container: the podman client needs them to say what is wrong. */
const LIBPOD_PASSED: ReadonlySet<string> = new Set(['_ping', 'version', 'info']);

interface FamilyContext {
  readonly method: string;
  /** Decoded segments after the family name. */
  readonly rest: string[];
  readonly prefix: string;
  /** What goes before the family in a path docker-sieve writes: `/v1.41`, or `/v4.3.1/libpod`. */
  readonly base: string;
  /** The whole cleaned path, prefix and family included. */
  readonly path: string;
  readonly version: ApiVersion | undefined;
  readonly query: string;
  readonly api: Api;
}

/** The route families that can say something about a container. */
const FAMILIES: Readonly<Record<string, (context: FamilyContext) => Target>> = {
  containers: classifyContainers,
  libpod: classifyLibpod,
  exec: classifyExec,
  events: (c) => exactly(c, 'GET', 0, 'events'),
  system: ({ method, rest, path, version, query, api }) =>
    method === 'GET' && rest.length === 1 && rest[0] === 'df'
      ? { kind: 'system-df', path, version, query, api }
      : { kind: 'pass', path, version, query, api },
  networks: classifyNetworks,
  commit: (c) => exactly(c, 'POST', 0, 'commit'),
  build: (c) => exactly(c, 'POST', 0, 'build'),
  services: (c) => classifySwarm(c, 'services'),
  tasks: (c) => classifySwarm(c, 'tasks'),
};

/** A route with no path parameters (`/events`, `/commit`): the one method is judged, the rest pass on. */
function exactly(
  { method, rest, path, version, query, api }: FamilyContext,
  wanted: string,
  extraSegments: number,
  kind: 'events' | 'commit' | 'build',
): Target {
  if (method === wanted && rest.length === extraSegments) return { kind, path, version, query, api };
  return { kind: 'pass', path, version, query, api };
}

function classifyLibpod(context: FamilyContext): Target {
  const { method, rest, path, version, query } = context;
  const api: Api = 'libpod';
  const family = rest[0];
  const inner: FamilyContext = { ...context, rest: rest.slice(1), base: `${context.prefix}/libpod`, api };
  if (family === undefined) return { kind: 'unfiltered', path, message: LIBPOD_REFUSED, version, query, api };
  if ((method === 'GET' || method === 'HEAD') && rest.length === 1 && LIBPOD_PASSED.has(family)) {
    return { kind: 'pass', path, version, query, api };
  }
  if (Object.hasOwn(LIBPOD_FAMILIES, family)) return LIBPOD_FAMILIES[family]!(inner);
  return { kind: 'unfiltered', path, message: LIBPOD_REFUSED, version, query, api };
}

/** What of Podman's native API docker-sieve filters or gates; anything else under /libpod is `unfiltered`. */
const LIBPOD_FAMILIES: Readonly<Record<string, (context: FamilyContext) => Target>> = {
  containers: classifyLibpodContainers,
  exec: classifyExec,
  pods: classifyPods,
  generate: ({ method, rest, path, version, query, api }) => {
    if (method === 'GET' && rest.length === 1 && rest[0] === 'kube') return { kind: 'generate', format: 'kube', ref: undefined, path, version, query, api };
    // `generate/{name:.*}/systemd`: the name may hold slashes.
    if (method === 'GET' && rest.length >= 2 && rest.at(-1) === 'systemd') {
      return { kind: 'generate', format: 'systemd', ref: rest.slice(0, -1).join('/'), path, version, query, api };
    }
    return libpodRefused(path, version, query);
  },
  kube: ({ method, rest, path, version, query, api }) =>
    method === 'GET' && rest.length === 1 && rest[0] === 'generate'
      ? { kind: 'generate', format: 'kube', ref: undefined, path, version, query, api }
      : libpodRefused(path, version, query, rest[0] === 'play' ? PLAY_KUBE_REFUSED : LIBPOD_REFUSED),
  play: ({ path, version, query, rest }) => libpodRefused(path, version, query, rest[0] === 'kube' ? PLAY_KUBE_REFUSED : LIBPOD_REFUSED),
  events: (c) => (c.method === 'GET' && c.rest.length === 0 ? { kind: 'events', path: c.path, version: c.version, query: c.query, api: c.api } : libpodRefused(c.path, c.version, c.query)),
  system: (c) =>
    c.method === 'GET' && c.rest.length === 1 && c.rest[0] === 'df'
      ? { kind: 'system-df', path: c.path, version: c.version, query: c.query, api: c.api }
      : libpodRefused(c.path, c.version, c.query),
  networks: ({ method, rest, path, version, query, api }) => {
    if (method === 'POST' && rest.length === 2 && (rest[1] === 'connect' || rest[1] === 'disconnect')) {
      return { kind: 'network-connect', path, version, query, api };
    }
    // Podman's networks list no containers: their list, inspect and exists say nothing about one.
    if (method === 'GET' && (rest.length === 1 || (rest.length === 2 && (rest[1] === 'json' || rest[1] === 'exists')))) {
      return { kind: 'pass', path, version, query, api };
    }
    return libpodRefused(path, version, query);
  },
  commit: (c) => (c.method === 'POST' && c.rest.length === 0 ? { kind: 'commit', path: c.path, version: c.version, query: c.query, api: c.api } : libpodRefused(c.path, c.version, c.query)),
  // Images and volumes, as they pass on the Docker-compatible API: `podman run` pulls (or checks) its image
  // first. Not DELETE: Podman's forced removal of an image or volume removes the containers that use it.
  images: imagesOrVolumes,
  // Volumes list no container; `podman inspect` asks for one of the name when no container has it.
  volumes: imagesOrVolumes,
};

function imagesOrVolumes({ method, path, version, query, api }: FamilyContext): Target {
  return method === 'GET' || method === 'HEAD' || method === 'POST' ? { kind: 'pass', path, version, query, api } : libpodRefused(path, version, query);
}

export const PLAY_KUBE_REFUSED =
  'docker-sieve: kube play is refused while container filters are active, because it can replace containers by name';

function libpodRefused(path: string, version: ApiVersion | undefined, query: string, message = LIBPOD_REFUSED): Target {
  return { kind: 'unfiltered', path, message, version, query, api: 'libpod' };
}

/** Actions after `/libpod/containers/{name}/`, per method, as Podman 4's router registers them. */
const LIBPOD_CONTAINER_ACTIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  GET: new Set(['json', 'logs', 'stats', 'top', 'exists', 'export', 'changes', 'archive', 'healthcheck']),
  HEAD: new Set(['archive']),
  POST: new Set([
    'kill', 'mount', 'unmount', 'pause', 'restart', 'start', 'unpause', 'wait', 'stop', 'attach', 'resize',
    'checkpoint', 'init', 'update', 'restore', 'rename', 'exec',
  ]),
  PUT: new Set(['archive']),
};

function classifyLibpodContainers(context: FamilyContext): Target {
  const { method, rest, base, path, version, query, api } = context;
  if (rest.length === 1) {
    if (method === 'GET' && rest[0] === 'json') return { kind: 'containers-list', path, version, query, api };
    if (method === 'GET' && rest[0] === 'stats') return { kind: 'containers-stats', path, version, query, api };
    if (method === 'POST' && rest[0] === 'create') return { kind: 'container-create', path, version, query, api };
    if (method === 'POST' && rest[0] === 'prune') return { kind: 'containers-prune', path, version, query, api };
  }
  // `{name}` is one segment, but for healthcheck (`{name:.*}`).
  if (method === 'DELETE' && rest.length === 1) return { kind: 'container', path, base, ref: rest[0]!, action: '', version, query, api };
  if (method === 'GET' && rest.length >= 2 && rest.at(-1) === 'healthcheck') {
    return { kind: 'container', path, base, ref: rest.slice(0, -1).join('/'), action: 'healthcheck', version, query, api };
  }
  const actions = Object.hasOwn(LIBPOD_CONTAINER_ACTIONS, method) ? LIBPOD_CONTAINER_ACTIONS[method] : undefined;
  if (rest.length === 2 && actions?.has(rest[1]!)) return { kind: 'container', path, base, ref: rest[0]!, action: rest[1]!, version, query, api };
  return libpodRefused(path, version, query);
}

const POD_ACTIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  GET: new Set(['json', 'exists', 'top']),
  POST: new Set(['kill', 'pause', 'restart', 'start', 'stop', 'unpause']),
};

function classifyPods(context: FamilyContext): Target {
  const { method, rest, base, path, version, query, api } = context;
  if (method === 'GET' && rest.length === 1 && rest[0] === 'json') return { kind: 'pods-list', path, version, query, api };
  if (method === 'GET' && rest.length === 1 && rest[0] === 'stats') return { kind: 'pods-stats', path, version, query, api };
  if (method === 'DELETE' && rest.length === 1) return { kind: 'pod', path, base, ref: rest[0]!, action: '', version, query, api };
  const actions = Object.hasOwn(POD_ACTIONS, method) ? POD_ACTIONS[method] : undefined;
  if (rest.length === 2 && actions?.has(rest[1]!)) return { kind: 'pod', path, base, ref: rest[0]!, action: rest[1]!, version, query, api };
  // create and prune among them: a pod's volumes_from and a prune of every pod are not filtered.
  return libpodRefused(path, version, query);
}

function classifyExec({ method, rest, base, path, version, query, api }: FamilyContext): Target {
  // `/exec/{id:.*}/json|start|resize`: anything else about an exec is not a route.
  const action = rest.at(-1);
  const id = rest.slice(0, -1).join('/');
  if (id !== '' && ((method === 'GET' && action === 'json') || (method === 'POST' && (action === 'start' || action === 'resize')))) {
    return { kind: 'exec', path, base, id, action, version, query, api };
  }
  return { kind: 'refuse', status: 404, message: PAGE_NOT_FOUND, path, version, query, api };
}

function classifyNetworks({ method, rest, path, version, query, api }: FamilyContext): Target {
  if (method === 'GET') {
    if (rest.length === 0) return { kind: 'networks-list', path, version, query, api };
    return { kind: 'network', path, id: rest.join('/'), version, query, api };
  }
  if (method === 'POST' && rest.length >= 2 && (rest.at(-1) === 'connect' || rest.at(-1) === 'disconnect')) {
    return { kind: 'network-connect', path, version, query, api };
  }
  return { kind: 'pass', path, version, query, api };
}

function classifySwarm({ method, rest, path, version, query, api }: FamilyContext, resource: SwarmResource): Target {
  if (rest.length === 0) {
    return method === 'GET' ? { kind: 'swarm-list', path, resource, version, query, api } : { kind: 'pass', path, version, query, api };
  }
  if (resource === 'services' && method === 'POST' && rest.length === 1 && rest[0] === 'create') {
    return { kind: 'pass', path, version, query, api };
  }
  // `/services/{id}`, `/services/{id}/logs`, `/services/{id}/update`, DELETE `/services/{id}`, and the tasks alike.
  const last = rest.at(-1)!;
  const action = rest.length > 1 && (last === 'logs' || last === 'update') ? last : '';
  const id = (action === '' ? rest : rest.slice(0, -1)).join('/');
  return { kind: 'swarm-object', path, resource, id, action, version, query, api };
}

function classifyContainers({ method, rest, base, path, version, query, api }: FamilyContext): Target {
  const refuse: Target = { kind: 'refuse', status: 404, message: PAGE_NOT_FOUND, path, version, query, api };
  if (rest.length === 0) return refuse;
  if (rest.length === 1) {
    if (method === 'GET' && rest[0] === 'json') {
      return { kind: 'containers-list', path, version, query, api };
    }
    if (method === 'POST' && rest[0] === 'create') {
      return { kind: 'container-create', path, version, query, api };
    }
    if (method === 'POST' && rest[0] === 'prune') {
      return { kind: 'containers-prune', path, version, query, api };
    }
  }
  if (method === 'DELETE') {
    return { kind: 'container', path, base, ref: rest.join('/'), action: '', version, query, api };
  }
  const actions = Object.hasOwn(CONTAINER_ACTIONS, method) ? CONTAINER_ACTIONS[method] : undefined;
  if (actions === undefined) return refuse;
  // `{name:.*}` is greedy, so the action is the tail: two segments for attach/ws, one otherwise.
  for (const width of [2, 1]) {
    if (rest.length <= width) continue;
    const action = rest.slice(-width).join('/');
    if (actions.has(action)) {
      return { kind: 'container', path, base, ref: rest.slice(0, -width).join('/'), action, version, query, api };
    }
  }
  return refuse;
}

/** The path to forward for a judged container route: the ref replaced by the full ID that was decided on. */
export function containerPath(target: { readonly base: string }, id: string, action: string): string {
  return `${target.base}/containers/${id}${action === '' ? '' : `/${action}`}`;
}
