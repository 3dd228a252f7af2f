import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyTarget } from '../../src/docker/target.js';
import {
  CONTAINER_ACTIONS,
  describeAccess,
  judgeAccess,
  requestAction,
  type Access,
  type ContainerAction,
} from '../../src/gates/access.js';

const ALL: Access = { kind: 'all' };
const READ: Access = { kind: 'read' };
const actions = (...list: ContainerAction[]): Access => ({ kind: 'actions', actions: new Set(list) });
const RESTART_START = actions('restart', 'start');
const EVERY = actions(...CONTAINER_ACTIONS);

// A fragment to find in the message of a refusal; undefined: allowed.
type Row = [method: string, url: string, access: Access, refusal: string | undefined];

const READ_ONLY = 'is read-only: ';
const ONLY = 'allows only reads and the container actions restart, start: ';

const rows: Row[] = [
  // Reads are allowed under every access.
  ['GET', '/containers/json', READ, undefined],
  ['GET', '/containers/json', RESTART_START, undefined],
  ['GET', '/v1.41/containers/web/json', READ, undefined],
  ['GET', '/containers/web/logs?follow=1', READ, undefined],
  ['GET', '/containers/web/logs', RESTART_START, undefined],
  ['GET', '/containers/web/stats?stream=false', READ, undefined],
  ['GET', '/containers/web/top', RESTART_START, undefined],
  ['GET', '/containers/web/export', READ, undefined],
  ['HEAD', '/_ping', READ, undefined],
  ['GET', '/v1.41/version', RESTART_START, undefined],
  ['GET', '/images/json', READ, undefined],
  ['GET', '/networks', READ, undefined],
  ['GET', '/events?since=1', RESTART_START, undefined],
  ['GET', '/system/df', READ, undefined],
  ['GET', '/services/s1/logs', READ, undefined],
  ['GET', '/exec/abc/json', READ, undefined],
  ['GET', '/exec/abc/json', RESTART_START, undefined],
  ['GET', '/containers/web/archive?path=/etc', READ, undefined],
  ['HEAD', '/containers/web/archive?path=/etc', READ, undefined],
  ['HEAD', '/containers/web/archive?path=/etc', actions('start'), undefined],
  // A GET libpod or unknown path is a read here; the unfiltered route refuses it elsewhere while filtering.
  ['GET', '/libpod/containers/json', READ, undefined],
  ['GET', '/v4.0.0/containers/json', RESTART_START, undefined],

  // attach/ws is a GET, but an attach.
  ['GET', '/containers/web/attach/ws?stream=1', READ, `${READ_ONLY}GET /containers/{ref}/attach/ws is refused`],
  ['GET', '/containers/web/attach/ws', RESTART_START, 'may not attach to containers (allowed: restart, start)'],
  ['GET', '/v1.41/containers/web/attach/ws', actions('attach'), undefined],

  // Every action: allowed when listed, refused under read and when another is listed.
  ['POST', '/containers/web/start', actions('start'), undefined],
  ['POST', '/containers/web/start', READ, `${READ_ONLY}POST /containers/{ref}/start is refused`],
  ['POST', '/containers/web/start', actions('restart'), 'may not start containers (allowed: restart)'],
  ['POST', '/containers/web/stop', actions('stop'), undefined],
  ['POST', '/containers/web/stop?t=1', RESTART_START, 'may not stop containers (allowed: restart, start)'],
  ['POST', '/containers/web/restart', RESTART_START, undefined],
  ['POST', '/containers/web/restart', READ, `${READ_ONLY}POST /containers/{ref}/restart is refused`],
  ['POST', '/containers/web/restart', actions('start', 'stop'), 'may not restart containers (allowed: start, stop)'],
  ['POST', '/containers/web/kill?signal=HUP', actions('kill'), undefined],
  ['POST', '/containers/web/kill', RESTART_START, 'may not kill containers'],
  ['POST', '/containers/web/pause', actions('pause'), undefined],
  ['POST', '/containers/web/pause', actions('unpause'), 'may not pause containers (allowed: unpause)'],
  ['POST', '/containers/web/unpause', actions('unpause'), undefined],
  ['POST', '/containers/web/unpause', actions('pause'), 'may not unpause containers (allowed: pause)'],
  ['POST', '/containers/web/rename?name=x', actions('rename'), undefined],
  ['POST', '/containers/web/rename?name=x', READ, READ_ONLY],
  ['POST', '/v1.24/containers/web/rename?name=x', RESTART_START, 'may not rename containers'],
  ['POST', '/containers/web/update', actions('update'), undefined],
  ['POST', '/containers/web/update', RESTART_START, 'may not update containers'],
  ['POST', '/containers/web/wait', actions('wait'), undefined],
  ['POST', '/containers/web/wait', RESTART_START, 'may not wait on containers'],
  ['POST', '/containers/web/resize?h=1&w=2', actions('resize'), undefined],
  ['POST', '/containers/web/resize?h=1&w=2', actions('exec'), 'may not resize containers (allowed: exec)'],
  ['POST', '/containers/web/attach?stream=1', actions('attach'), undefined],
  ['POST', '/containers/web/attach?stream=1', READ, `${READ_ONLY}POST /containers/{ref}/attach is refused`],
  ['POST', '/containers/web/attach', RESTART_START, 'may not attach to containers'],

  // exec: creating, starting and resizing; inspecting is a read (above).
  ['POST', '/containers/web/exec', actions('exec'), undefined],
  ['POST', '/containers/web/exec', READ, `${READ_ONLY}POST /containers/{ref}/exec is refused`],
  ['POST', '/containers/web/exec', RESTART_START, 'may not exec in containers (allowed: restart, start)'],
  ['POST', '/exec/abc/start', actions('exec'), undefined],
  ['POST', '/v1.41/exec/abc/start', READ, `${READ_ONLY}POST /exec/{id}/start is refused`],
  ['POST', '/exec/abc/start', actions('attach'), 'may not exec in containers (allowed: attach)'],
  ['POST', '/exec/abc/resize?h=1&w=2', actions('exec'), undefined],
  ['POST', '/exec/abc/resize?h=1&w=2', actions('resize'), 'may not exec in containers (allowed: resize)'],

  // archive: PUT writes, GET/HEAD read.
  ['PUT', '/containers/web/archive?path=/tmp', actions('archive'), undefined],
  ['PUT', '/containers/web/archive?path=/tmp', READ, `${READ_ONLY}PUT /containers/{ref}/archive is refused`],
  ['PUT', '/containers/web/archive?path=/tmp', RESTART_START, 'may not copy files into containers (archive)'],
  ['GET', '/containers/web/archive?path=/etc', RESTART_START, undefined],

  // remove and create.
  ['DELETE', '/containers/web?force=1', actions('remove'), undefined],
  ['DELETE', '/containers/web', READ, `${READ_ONLY}DELETE /containers/{ref} is refused`],
  ['DELETE', '/v1.41/containers/web', RESTART_START, 'may not remove containers (allowed: restart, start)'],
  ['POST', '/containers/create?name=x', actions('create'), undefined],
  ['POST', '/v1.41/containers/create', READ, `${READ_ONLY}POST /containers/create is refused`],
  ['POST', '/containers/create', RESTART_START, 'may not create containers (allowed: restart, start)'],

  // Other writes: only `all` allows them, even with every action listed.
  ['POST', '/networks/n1/connect', EVERY, 'POST /networks/{id}/connect is refused'],
  ['POST', '/networks/n1/disconnect', RESTART_START, `${ONLY}POST /networks/{id}/disconnect is refused`],
  ['POST', '/networks/n1/connect', READ, `${READ_ONLY}POST /networks/{id}/connect is refused`],
  ['POST', '/networks/create', RESTART_START, `${ONLY}POST /networks/create is refused`],
  ['DELETE', '/networks/n1', EVERY, 'DELETE /networks/n1 is refused'],
  ['POST', '/containers/prune', EVERY, 'POST /containers/prune is refused'],
  ['POST', '/containers/prune', READ, `${READ_ONLY}POST /containers/prune is refused`],
  ['POST', '/commit?container=web&repo=x', RESTART_START, `${ONLY}POST /commit is refused`],
  ['POST', '/v1.41/build?networkmode=container:db', EVERY, 'POST /build is refused'],
  ['POST', '/v1.41/images/create?fromImage=x', RESTART_START, `${ONLY}POST /images/create is refused`],
  ['POST', '/images/create?fromImage=x', READ, `${READ_ONLY}POST /images/create is refused`],
  ['DELETE', '/images/busybox', EVERY, 'DELETE /images/busybox is refused'],
  ['POST', '/volumes/prune', EVERY, 'POST /volumes/prune is refused'],
  ['POST', '/services/s1/update', EVERY, 'POST /services/{id}/update is refused'],
  ['POST', '/containers/web/copy', EVERY, 'POST /containers/{ref}/copy is refused'],
  ['POST', '/containers/web/checkpoints', EVERY, 'POST /containers/{ref}/checkpoints is refused'],
  ['POST', '/libpod/containers/web/start', EVERY, undefined],
  ['POST', '/libpod/containers/web/start', actions('restart'), 'may not start containers'],
  ['POST', '/libpod/containers/web/mount', EVERY, 'POST /libpod/containers/{ref}/mount is refused'],
  ['POST', '/libpod/pods/p/stop', actions('stop'), undefined],
  ['POST', '/libpod/pods/p/stop', actions('restart'), 'may not stop containers'],
  ['DELETE', '/libpod/pods/p', actions('remove'), undefined],
  ['POST', '/libpod/pods/p/restart', READ, READ_ONLY],
  ['POST', '/v4.3.1/libpod/play/kube', EVERY, 'POST /libpod/play/kube is refused'],
  ['POST', '/libpod/containers/web/start', READ, READ_ONLY],
  // Podman's own version strings are not a Docker version prefix: an unknown family, so another write.
  ['DELETE', '/v4.0.0-dev/containers/web', EVERY, 'DELETE /v4.0.0-dev/containers/web is refused'],
  ['POST', '/containers/web/bogus', EVERY, 'POST /containers/web/bogus is refused'],
  ['PATCH', '/containers/web/start', EVERY, 'PATCH /containers/web/start is refused'],
  ['OPTIONS', '/containers/json', READ, `${READ_ONLY}OPTIONS /containers/json is refused`],

  // `all` allows everything here; the socket proxy and the visibility gates still decide elsewhere.
  ['POST', '/containers/web/stop', ALL, undefined],
  ['GET', '/containers/web/attach/ws', ALL, undefined],
  ['POST', '/containers/prune', ALL, undefined],
  ['POST', '/build', ALL, undefined],
  ['POST', '/libpod/containers/web/start', ALL, undefined],
];

describe('judgeAccess', () => {
  const table = rows.map(([method, url, access, refusal]) => [method, url, describeAccess(access), access, refusal] as const);
  it.each(table)('%s %s under %s', (method, url, _label, access, refusal) => {
    const decision = judgeAccess(access, 'p', method, classifyTarget(method, url));
    if (refusal === undefined) {
      expect(decision).toEqual({ allowed: true });
    } else {
      expect(decision.allowed).toBe(false);
      expect(decision.allowed === false && decision.message).toContain(refusal);
      expect(decision.allowed === false && decision.message).toMatch(/^docker-sieve: profile "p" /);
    }
  });

  it('covers every action, allowed and refused', () => {
    const granted = new Set<ContainerAction>();
    const refusedFor = new Set<ContainerAction>();
    for (const [method, url, access, refusal] of rows) {
      const action = requestAction(method, classifyTarget(method, url));
      if (action === 'read' || action === 'other-write' || access.kind !== 'actions') continue;
      (refusal === undefined ? granted : refusedFor).add(action);
    }
    expect([...granted].sort()).toEqual([...CONTAINER_ACTIONS].sort());
    expect([...refusedFor].sort()).toEqual([...CONTAINER_ACTIONS].sort());
  });

  it('says the messages of the contract', () => {
    expect(judgeAccess(READ, 'homepage', 'POST', classifyTarget('POST', '/v1.41/containers/abc/restart'))).toEqual({
      allowed: false,
      message: 'docker-sieve: profile "homepage" is read-only: POST /containers/{ref}/restart is refused',
    });
    expect(judgeAccess(actions('start', 'restart'), 'portainer', 'POST', classifyTarget('POST', '/containers/abc/stop'))).toEqual({
      allowed: false,
      message: 'docker-sieve: profile "portainer" may not stop containers (allowed: restart, start)',
    });
  });

  it('quotes the profile name and shortens long paths', () => {
    const long = `/images/${'x'.repeat(500)}/push`;
    const decision = judgeAccess(READ, 'a "b"', 'POST', classifyTarget('POST', long));
    expect(decision.allowed === false && decision.message).toMatch(/^docker-sieve: profile "a \\"b\\"" is read-only: POST \/images\/x+… is refused$/);
    expect(decision.allowed === false && decision.message.length).toBeLessThan(200);
  });

  it('names a malformed path without echoing it', () => {
    const decision = judgeAccess(READ, 'p', 'POST', classifyTarget('POST', '/containers/%zz/start'));
    expect(decision).toEqual({ allowed: false, message: 'docker-sieve: profile "p" is read-only: POST (a malformed path) is refused' });
  });

  it('judges a method with the action it was classified with, not the action alone', () => {
    // Methods are case-sensitive: a lowercase one is not a read and fails closed.
    expect(judgeAccess(READ, 'p', 'get', classifyTarget('GET', '/containers/json')).allowed).toBe(false);
    // Archive as POST is not a route, and not the archive action.
    const postArchive = classifyTarget('PUT', '/containers/web/archive');
    expect(postArchive).toMatchObject({ kind: 'container', action: 'archive' });
    expect(requestAction('POST', postArchive)).toBe('other-write');
    expect(requestAction('PUT', postArchive)).toBe('archive');
    // An exec start reaches the process whatever the method says.
    expect(requestAction('GET', classifyTarget('POST', '/exec/abc/start'))).toBe('exec');
  });
});

describe('describeAccess', () => {
  it('says the setting, actions in alphabetical order', () => {
    expect(describeAccess(ALL)).toBe('all');
    expect(describeAccess(READ)).toBe('read');
    expect(describeAccess(actions('start', 'restart'))).toBe('actions: restart, start');
    expect(describeAccess(actions())).toBe('actions: none');
  });
});

describe('properties', () => {
  const methods = fc.oneof(
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'get', 'head', 'Post'),
    fc.string({ minLength: 1, maxLength: 8 }),
  );
  const segment = fc.oneof(
    fc.constantFrom(
      'containers', 'exec', 'networks', 'libpod', 'images', 'volumes', 'services', 'tasks', 'commit', 'build', 'system',
      'events', 'create', 'prune', 'json', 'start', 'stop', 'attach', 'ws', 'archive', 'resize', 'connect', 'web', '..',
      '.', '', '%2F', '%zz', '__proto__', 'v1.41', 'V1.24',
    ),
    fc.string({ maxLength: 6 }),
  );
  const url = fc
    .tuple(fc.constantFrom('', '/v1.41', '/v1.24', 'http://docker'), fc.array(segment, { maxLength: 5 }), fc.constantFrom('', '?x=1', '?'))
    .map(([prefix, segments, query]) => `${prefix}/${segments.join('/')}${query}`);
  const someActions = fc.subarray([...CONTAINER_ACTIONS]).map((list) => actions(...list));

  it('read refuses every method but GET and HEAD, whatever the path', () => {
    fc.assert(
      fc.property(methods.filter((m) => m !== 'GET' && m !== 'HEAD'), url, (method, raw) => {
        const decision = judgeAccess(READ, 'p', method, classifyTarget(method, raw));
        return decision.allowed === false && decision.message.startsWith('docker-sieve: profile "p" is read-only: ');
      }),
      { numRuns: 2000 },
    );
  });

  it('all allows everything', () => {
    fc.assert(
      fc.property(methods, url, (method, raw) => judgeAccess(ALL, 'p', method, classifyTarget(method, raw)).allowed),
      { numRuns: 2000 },
    );
  });

  it('read ⊆ actions(S) ⊆ actions(S ∪ T) ⊆ all', () => {
    fc.assert(
      fc.property(methods, url, someActions, someActions, (method, raw, s, t) => {
        const target = classifyTarget(method, raw);
        const union = actions(...(s.kind === 'actions' ? s.actions : []), ...(t.kind === 'actions' ? t.actions : []));
        const allowed = [READ, s, union, ALL].map((access) => judgeAccess(access, 'p', method, target).allowed);
        return allowed.every((value, i) => i === 0 || !allowed[i - 1] || value);
      }),
      { numRuns: 2000 },
    );
  });
});
