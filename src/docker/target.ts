// Classifies a request target the way dockerd's router would see it, and says what docker-sieve must do.
// Pure: no I/O, no Fastify. The daemon routes on the percent-decoded, cleaned path, so we decode and clean
// first, judge that, and forward exactly the path we judged.

export interface ApiVersion {
  /** As written after the `v`, e.g. `1.41`. */
  readonly text: string;
  readonly major: number;
  readonly minor: number;
}

interface Common {
  /** undefined when the request has no `/vX.Y` prefix. */
  readonly version: ApiVersion | undefined;
  /** The raw query string without `?`, forwarded as the client sent it. */
  readonly query: string;
}

export type Target =
  | (Common & { readonly kind: 'refuse'; readonly status: 400 | 404; readonly message: string })
  | (Common & { readonly kind: 'pass'; readonly path: string })
  | (Common & { readonly kind: 'containers-list'; readonly path: string })
  | (Common & {
      readonly kind: 'container';
      /** The container reference as the daemon would read it (decoded; may contain `/`). */
      readonly ref: string;
      /** What follows the ref, e.g. `json`, `attach/ws`; empty for `DELETE /containers/{ref}`. */
      readonly action: string;
    });

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
    return { kind: 'refuse', status: 400, message: 'malformed request target', version: undefined, query };
  }
  const segments = decodeAndClean(rawPath);
  if (segments === undefined) {
    return { kind: 'refuse', status: 400, message: 'malformed request path', version: undefined, query };
  }

  let version: ApiVersion | undefined;
  const versionMatch = segments.length > 0 ? VERSION_SEGMENT.exec(segments[0]!) : null;
  if (versionMatch !== null) {
    version = parseApiVersion(versionMatch[1]!);
    segments.shift();
  }
  const prefix = version === undefined ? '' : `/v${version.text}`;
  const family = segments[0];

  if (family === 'containers') return classifyContainers(method, segments.slice(1), prefix, version, query);
  if (family !== undefined && family !== 'containers' && family.toLowerCase() === 'containers') {
    // The daemon matches case-sensitively (404); refusing keeps a case-insensitive socket proxy honest.
    return { kind: 'refuse', status: 404, message: PAGE_NOT_FOUND, version, query };
  }
  return { kind: 'pass', path: prefix + encodePath(segments), version, query };
}

function classifyContainers(
  method: string,
  rest: string[],
  prefix: string,
  version: ApiVersion | undefined,
  query: string,
): Target {
  const refuse: Target = { kind: 'refuse', status: 404, message: PAGE_NOT_FOUND, version, query };
  if (rest.length === 0) return refuse;
  if (rest.length === 1) {
    if (method === 'GET' && rest[0] === 'json') {
      return { kind: 'containers-list', path: `${prefix}/containers/json`, version, query };
    }
    if (method === 'POST' && (rest[0] === 'create' || rest[0] === 'prune')) {
      return { kind: 'pass', path: `${prefix}/containers/${rest[0]}`, version, query };
    }
  }
  if (method === 'DELETE') {
    return { kind: 'container', ref: rest.join('/'), action: '', version, query };
  }
  const actions = CONTAINER_ACTIONS[method];
  if (actions === undefined) return refuse;
  // `{name:.*}` is greedy, so the action is the tail: two segments for attach/ws, one otherwise.
  for (const width of [2, 1]) {
    if (rest.length <= width) continue;
    const action = rest.slice(-width).join('/');
    if (actions.has(action)) {
      return { kind: 'container', ref: rest.slice(0, -width).join('/'), action, version, query };
    }
  }
  return refuse;
}

/** The path to forward for a judged container route: the ref replaced by the full ID that was decided on. */
export function containerPath(version: ApiVersion | undefined, id: string, action: string): string {
  const prefix = version === undefined ? '' : `/v${version.text}`;
  return `${prefix}/containers/${id}${action === '' ? '' : `/${action}`}`;
}
