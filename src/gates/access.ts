// A profile's access: what a client may do, decided from the method and the classified target alone. Pure, and
// called before routing, so a refusal is made before anything is forwarded. Which containers a client may see is
// the container gate's business, not this one's: here only the method and the action count.
import type { Target } from '../docker/target.js';

/** The container actions an `access: { actions: [...] }` may grant (the same list as the config file's schema). */
export const CONTAINER_ACTIONS = [
  'start',
  'stop',
  'restart',
  'kill',
  'pause',
  'unpause',
  'rename',
  'update',
  'wait',
  'resize',
  'attach',
  'exec',
  'archive',
  'remove',
  'create',
] as const;

export type ContainerAction = (typeof CONTAINER_ACTIONS)[number];

export type Access =
  | { readonly kind: 'all' }
  | { readonly kind: 'read' }
  | { readonly kind: 'actions'; readonly actions: ReadonlySet<ContainerAction> };

export type AccessDecision = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

/**
 * What a request does, as far as access is concerned: a read, one of the container actions, or some other write
 * (images, networks, volumes, prune, commit, build, swarm, libpod, unknown routes...), which only `all` allows.
 */
export type RequestAction = 'read' | ContainerAction | 'other-write';

const ALLOWED: AccessDecision = Object.freeze({ allowed: true });

/** Case-sensitive, as HTTP methods are: `get` is not a read, and fails closed. */
function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** The writes after `/containers/{ref}`, per method, as the classifier names them (`''` is the bare ref). */
const CONTAINER_WRITES: Readonly<Record<string, Readonly<Record<string, ContainerAction>>>> = {
  POST: {
    start: 'start',
    stop: 'stop',
    restart: 'restart',
    kill: 'kill',
    pause: 'pause',
    unpause: 'unpause',
    rename: 'rename',
    update: 'update',
    wait: 'wait',
    resize: 'resize',
    attach: 'attach',
    exec: 'exec',
    // copy (removed from the API) and checkpoints are writes no action grants.
  },
  PUT: { archive: 'archive' },
  DELETE: { '': 'remove' },
};

export function requestAction(method: string, target: Target): RequestAction {
  switch (target.kind) {
    case 'container': {
      // Attach and exec reach a process whatever the method: GET attach/ws is a websocket upgrade.
      if (target.action === 'attach' || target.action === 'attach/ws') return 'attach';
      if (target.action === 'exec') return 'exec';
      if (isRead(method)) return 'read';
      const writes = Object.hasOwn(CONTAINER_WRITES, method) ? CONTAINER_WRITES[method]! : undefined;
      return writes !== undefined && Object.hasOwn(writes, target.action) ? writes[target.action]! : 'other-write';
    }
    case 'exec':
      // Inspecting an exec reads; starting or resizing one drives the process it runs.
      if (target.action === 'json') return isRead(method) ? 'read' : 'other-write';
      return 'exec';
    case 'container-create':
      return 'create';
    case 'pod': {
      // A pod's actions act on each of its containers: they need the same grants.
      if (isRead(method)) return 'read';
      const writes = Object.hasOwn(CONTAINER_WRITES, method) ? CONTAINER_WRITES[method]! : undefined;
      return writes !== undefined && Object.hasOwn(writes, target.action) ? writes[target.action]! : 'other-write';
    }
    default:
      return isRead(method) ? 'read' : 'other-write';
  }
}

export function judgeAccess(access: Access, profileName: string, method: string, target: Target): AccessDecision {
  if (access.kind === 'all') return ALLOWED;
  const action = requestAction(method, target);
  if (action === 'read') return ALLOWED;
  const profile = `docker-sieve: profile ${JSON.stringify(profileName)}`;
  const request = `${method} ${describeRoute(target)}`;
  switch (access.kind) {
    case 'read':
      return refused(`${profile} is read-only: ${request} is refused`);
    case 'actions': {
      if (action !== 'other-write' && access.actions.has(action)) return ALLOWED;
      const allowed = sortedActions(access.actions);
      if (action === 'other-write') {
        const grants = allowed.length === 0 ? 'reads' : `reads and the container actions ${allowed.join(', ')}`;
        return refused(`${profile} allows only ${grants}: ${request} is refused`);
      }
      return refused(`${profile} may not ${PHRASES[action]} (allowed: ${allowed.length === 0 ? 'none' : allowed.join(', ')})`);
    }
    default: {
      // Not reachable through the types; a shape from elsewhere gets nothing.
      const unknown: never = access;
      return refused(`${profile} has an access setting docker-sieve does not know (${JSON.stringify(unknown)})`);
    }
  }
}

/** `all`, `read` or `actions: restart, start`, for logs and `preview`. */
export function describeAccess(access: Access): string {
  switch (access.kind) {
    case 'all':
    case 'read':
      return access.kind;
    case 'actions': {
      const actions = sortedActions(access.actions);
      return `actions: ${actions.length === 0 ? 'none' : actions.join(', ')}`;
    }
  }
}

// Each phrase names its action as the config file spells it, so the message says what to add.
const PHRASES: Readonly<Record<ContainerAction, string>> = {
  start: 'start containers',
  stop: 'stop containers',
  restart: 'restart containers',
  kill: 'kill containers',
  pause: 'pause containers',
  unpause: 'unpause containers',
  rename: 'rename containers',
  update: 'update containers',
  wait: 'wait on containers',
  resize: 'resize containers',
  attach: 'attach to containers',
  exec: 'exec in containers',
  archive: 'copy files into containers (archive)',
  remove: 'remove containers',
  create: 'create containers',
};

function refused(message: string): AccessDecision {
  return { allowed: false, message };
}

// Alphabetical, so the same setting always reads the same, whatever order the file listed it in.
function sortedActions(actions: ReadonlySet<ContainerAction>): string[] {
  return [...actions].sort();
}

const SHOWN_PATH = 100;

/** The route without its version prefix, refs and IDs as placeholders: stable in logs, and short. */
function describeRoute(target: Target): string {
  switch (target.kind) {
    case 'container':
      return `${target.api === 'libpod' ? '/libpod' : ''}/containers/{ref}${target.action === '' ? '' : `/${target.action}`}`;
    case 'pod':
      return `/libpod/pods/{name}${target.action === '' ? '' : `/${target.action}`}`;
    case 'exec':
      return `/exec/{id}/${target.action}`;
    case 'network':
      return '/networks/{id}';
    case 'network-connect':
      return `/networks/{id}/${target.path.slice(target.path.lastIndexOf('/') + 1)}`;
    case 'swarm-object':
      return `/${target.resource}/{id}${target.action === '' ? '' : `/${target.action}`}`;
    default: {
      if (target.path === undefined) return '(a malformed path)';
      const path = target.version === undefined ? target.path : target.path.slice(`/v${target.version.text}`.length) || '/';
      // A client can send a path of any length: the message needs only its start.
      return path.length > SHOWN_PATH ? `${path.slice(0, SHOWN_PATH)}…` : path;
    }
  }
}
