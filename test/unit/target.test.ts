import { describe, expect, it } from 'vitest';
import { classifyTarget, containerPath, decodeAndClean, errorsArePlainText, parseApiVersion } from '../../src/docker/target.js';

type PathKind =
  | 'pass' | 'unfiltered' | 'containers-stats' | 'generate' | 'pods-list' | 'pods-stats' | 'pod' | 'containers-list' | 'container-create' | 'containers-prune' | 'commit' | 'build' | 'events' | 'system-df'
  | 'networks-list' | 'network' | 'network-connect' | 'swarm-list';

type Expected =
  | { kind: PathKind; path: string; query?: string }
  | { kind: 'exec'; id: string; action: string }
  | { kind: 'swarm-object'; resource: string; id: string; action: string }
  | { kind: 'container'; ref: string; action: string; version?: string }
  | { kind: 'refuse'; status: 400 | 404 };

const cases: Array<[method: string, url: string, expected: Expected]> = [
  // pass-through
  ['HEAD', '/_ping', { kind: 'pass', path: '/_ping' }],
  ['GET', '/_ping', { kind: 'pass', path: '/_ping' }],
  ['HEAD', '/v1.41/_ping', { kind: 'pass', path: '/v1.41/_ping' }],
  ['GET', '/version', { kind: 'pass', path: '/version' }],
  ['GET', '/v1.41/info', { kind: 'pass', path: '/v1.41/info' }],
  ['GET', '/v1.41/images/json?all=1', { kind: 'pass', path: '/v1.41/images/json', query: 'all=1' }],
  ['GET', '/images/local/busybox:1/json', { kind: 'pass', path: '/images/local/busybox:1/json' }],
  ['POST', '/v1.41/images/create?fromImage=x', { kind: 'pass', path: '/v1.41/images/create', query: 'fromImage=x' }],
  ['GET', '/system/info', { kind: 'pass', path: '/system/info' }],
  ['POST', '/networks/create', { kind: 'pass', path: '/networks/create' }],
  ['DELETE', '/networks/n1', { kind: 'pass', path: '/networks/n1' }],
  ['POST', '/events', { kind: 'pass', path: '/events' }],
  ['POST', '/services/create', { kind: 'pass', path: '/services/create' }],
  // routes that can reveal other containers
  ['POST', '/v1.41/containers/create?name=x', { kind: 'container-create', path: '/v1.41/containers/create', query: 'name=x' }],
  ['POST', '/containers/prune', { kind: 'containers-prune', path: '/containers/prune' }],
  ['POST', '/commit?container=web-a&repo=x', { kind: 'commit', path: '/commit', query: 'container=web-a&repo=x' }],
  ['POST', '/v1.41/build?networkmode=container:db', { kind: 'build', path: '/v1.41/build', query: 'networkmode=container:db' }],
  ['GET', '/v1.41/events?since=1', { kind: 'events', path: '/v1.41/events', query: 'since=1' }],
  ['GET', '/system/df', { kind: 'system-df', path: '/system/df' }],
  ['GET', '/networks', { kind: 'networks-list', path: '/networks' }],
  ['GET', '/v1.27/networks/', { kind: 'networks-list', path: '/v1.27/networks' }],
  ['GET', '/networks/none', { kind: 'network', path: '/networks/none' }],
  ['POST', '/networks/n1/connect', { kind: 'network-connect', path: '/networks/n1/connect' }],
  ['POST', '/networks/n1/disconnect', { kind: 'network-connect', path: '/networks/n1/disconnect' }],
  ['GET', '/exec/abc/json', { kind: 'exec', id: 'abc', action: 'json' }],
  ['POST', '/v1.41/exec/abc/start', { kind: 'exec', id: 'abc', action: 'start' }],
  ['POST', '/exec/abc/resize?h=1&w=2', { kind: 'exec', id: 'abc', action: 'resize' }],
  ['GET', '/exec/abc/start', { kind: 'refuse', status: 404 }],
  ['GET', '/exec/abc', { kind: 'refuse', status: 404 }],
  ['GET', '/EXEC/abc/json', { kind: 'refuse', status: 404 }],
  ['GET', '/services', { kind: 'swarm-list', path: '/services' }],
  ['GET', '/tasks?filters=x', { kind: 'swarm-list', path: '/tasks', query: 'filters=x' }],
  ['GET', '/services/s1', { kind: 'swarm-object', resource: 'services', id: 's1', action: '' }],
  ['GET', '/services/s1/logs', { kind: 'swarm-object', resource: 'services', id: 's1', action: 'logs' }],
  ['POST', '/services/s1/update', { kind: 'swarm-object', resource: 'services', id: 's1', action: 'update' }],
  ['DELETE', '/services/s1', { kind: 'swarm-object', resource: 'services', id: 's1', action: '' }],
  ['GET', '/tasks/t1', { kind: 'swarm-object', resource: 'tasks', id: 't1', action: '' }],
  // the list, with and without a version, and with a cleaned path
  ['GET', '/containers/json', { kind: 'containers-list', path: '/containers/json' }],
  ['GET', '/v1.41/containers/json?all=1&limit=2', { kind: 'containers-list', path: '/v1.41/containers/json', query: 'all=1&limit=2' }],
  ['GET', '/v1.24/containers/json', { kind: 'containers-list', path: '/v1.24/containers/json' }],
  ['GET', '//containers/json', { kind: 'containers-list', path: '/containers/json' }],
  ['GET', '/containers/json/', { kind: 'containers-list', path: '/containers/json' }],
  ['GET', '/v1.41/./containers/json', { kind: 'containers-list', path: '/v1.41/containers/json' }],
  ['GET', '/x/../containers/json', { kind: 'containers-list', path: '/containers/json' }],
  ['GET', '/V1.41/containers/json', { kind: 'containers-list', path: '/v1.41/containers/json' }],
  ['GET', 'http://docker/v1.41/containers/json?all=1', { kind: 'containers-list', path: '/v1.41/containers/json', query: 'all=1' }],
  ['GET', '/containers/%6Ason', { kind: 'containers-list', path: '/containers/json' }],
  // container routes, every method
  ['GET', '/containers/web-a/json', { kind: 'container', ref: 'web-a', action: 'json' }],
  ['GET', '/v1.41/containers/web-a/json', { kind: 'container', ref: 'web-a', action: 'json', version: '1.41' }],
  ['GET', '/containers/c73b1f8f1f5c/logs?follow=1', { kind: 'container', ref: 'c73b1f8f1f5c', action: 'logs' }],
  ['GET', '/containers/web-a/stats?stream=false', { kind: 'container', ref: 'web-a', action: 'stats' }],
  ['GET', '/containers/web-a/top', { kind: 'container', ref: 'web-a', action: 'top' }],
  ['GET', '/containers/web-a/changes', { kind: 'container', ref: 'web-a', action: 'changes' }],
  ['GET', '/containers/web-a/export', { kind: 'container', ref: 'web-a', action: 'export' }],
  ['GET', '/containers/web-a/archive?path=/etc', { kind: 'container', ref: 'web-a', action: 'archive' }],
  ['HEAD', '/containers/web-a/archive?path=/etc', { kind: 'container', ref: 'web-a', action: 'archive' }],
  ['PUT', '/containers/web-a/archive?path=/tmp', { kind: 'container', ref: 'web-a', action: 'archive' }],
  ['GET', '/containers/web-a/attach/ws', { kind: 'container', ref: 'web-a', action: 'attach/ws' }],
  ['POST', '/containers/web-a/attach?stream=1', { kind: 'container', ref: 'web-a', action: 'attach' }],
  ['POST', '/containers/web-a/exec', { kind: 'container', ref: 'web-a', action: 'exec' }],
  ['POST', '/containers/web-a/start', { kind: 'container', ref: 'web-a', action: 'start' }],
  ['POST', '/containers/web-a/stop', { kind: 'container', ref: 'web-a', action: 'stop' }],
  ['POST', '/containers/web-a/kill?signal=HUP', { kind: 'container', ref: 'web-a', action: 'kill' }],
  ['POST', '/containers/web-a/rename?name=b', { kind: 'container', ref: 'web-a', action: 'rename' }],
  ['POST', '/containers/web-a/wait', { kind: 'container', ref: 'web-a', action: 'wait' }],
  ['POST', '/containers/web-a/update', { kind: 'container', ref: 'web-a', action: 'update' }],
  ['DELETE', '/containers/web-a?force=1', { kind: 'container', ref: 'web-a', action: '' }],
  ['DELETE', '/v1.41/containers/parent/alias', { kind: 'container', ref: 'parent/alias', action: '', version: '1.41' }],
  // refs that look like keywords, link aliases, and the daemon's decoding
  ['GET', '/containers/json/json', { kind: 'container', ref: 'json', action: 'json' }],
  ['GET', '/containers/create/json', { kind: 'container', ref: 'create', action: 'json' }],
  ['GET', '/containers/prune/json', { kind: 'container', ref: 'prune', action: 'json' }],
  ['GET', '/containers/parent/alias/json', { kind: 'container', ref: 'parent/alias', action: 'json' }],
  ['GET', '/v1.41/containers/db%2Fjson', { kind: 'container', ref: 'db', action: 'json', version: '1.41' }],
  ['GET', '/containers/%77eb-a/json', { kind: 'container', ref: 'web-a', action: 'json' }],
  ['GET', '/containers//web-a/json', { kind: 'container', ref: 'web-a', action: 'json' }],
  ['GET', '/containers/web-a/./json', { kind: 'container', ref: 'web-a', action: 'json' }],
  ['GET', '/containers/x/../web-a/json', { kind: 'container', ref: 'web-a', action: 'json' }],
  ['GET', '/containers/web-a/logs/json', { kind: 'container', ref: 'web-a/logs', action: 'json' }],
  ['GET', 'http://evil:2375/containers/web-a/json', { kind: 'container', ref: 'web-a', action: 'json' }],
  // refused: unknown container routes, odd case, malformed encodings
  ['GET', '/containers', { kind: 'refuse', status: 404 }],
  ['GET', '/containers/web-a', { kind: 'refuse', status: 404 }],
  ['GET', '/containers/web-a/nope', { kind: 'refuse', status: 404 }],
  ['POST', '/containers/web-a/json', { kind: 'refuse', status: 404 }],
  ['OPTIONS', '/containers/web-a/json', { kind: 'refuse', status: 404 }],
  ['PATCH', '/containers/web-a/start', { kind: 'refuse', status: 404 }],
  ['GET', '/containers/create', { kind: 'refuse', status: 404 }],
  ['HEAD', '/containers/json', { kind: 'refuse', status: 404 }],
  ['GET', '/CONTAINERS/web-a/json', { kind: 'refuse', status: 404 }],
  ['GET', '/v1.41/Containers/json', { kind: 'refuse', status: 404 }],
  ['GET', '/containers/%zz/json', { kind: 'refuse', status: 400 }],
  ['GET', '/containers/web-a%00/json', { kind: 'refuse', status: 400 }],
  ['GET', '/containers/web-a%252Fjson', { kind: 'refuse', status: 400 }],
  ['GET', 'containers/json', { kind: 'refuse', status: 400 }],
  // found by the property test: a segment named like an Object.prototype key
  ['GET', '/__proto__', { kind: 'unfiltered', path: '/__proto__' }],
  ['GET', '/constructor/x', { kind: 'unfiltered', path: '/constructor/x' }],
  // families that name no container pass; a family the classifier does not know is not passed while filtering
  ['GET', '/v1.41/volumes', { kind: 'pass', path: '/v1.41/volumes' }],
  ['GET', '/plugins', { kind: 'pass', path: '/plugins' }],
  ['POST', '/session', { kind: 'pass', path: '/session' }],
  ['GET', '/nodes/n1', { kind: 'pass', path: '/nodes/n1' }],
  ['GET', '/', { kind: 'unfiltered', path: '/' }],
  ['GET', '/debug/pprof/', { kind: 'unfiltered', path: '/debug/pprof' }],
  ['GET', '/v1.41/nosuchfamily/x', { kind: 'unfiltered', path: '/v1.41/nosuchfamily/x' }],
  // Podman routes `/v{version}` with letters and dashes too: a version docker-sieve does not parse is no family
  ['GET', '/v4.0.0-dev/containers/json', { kind: 'unfiltered', path: '/v4.0.0-dev/containers/json' }],
  ['GET', '/VOLUMES', { kind: 'refuse', status: 404 }],
  // Podman's native API: refused while filtering, but for what names no container
  ['GET', '/libpod/containers/json', { kind: 'containers-list', path: '/libpod/containers/json' }],
  ['GET', '/v4.0.0/libpod/containers/json?all=true', { kind: 'containers-list', path: '/v4.0.0/libpod/containers/json', query: 'all=true' }],
  ['GET', '/v4.3.1/libpod/containers/hidden/json', { kind: 'container', ref: 'hidden', action: 'json', version: '4.3.1' }],
  ['GET', '/v4.3.1/libpod/generate/hidden/kube', { kind: 'unfiltered', path: '/v4.3.1/libpod/generate/hidden/kube' }],
  ['GET', '/v4.3.1/libpod/generate/kube?names=a', { kind: 'generate', path: '/v4.3.1/libpod/generate/kube', query: 'names=a' }],
  ['GET', '/v4.3.1/libpod/generate/a/b/systemd', { kind: 'generate', path: '/v4.3.1/libpod/generate/a/b/systemd' }],
  ['GET', '/v4.3.1/libpod/kube/generate', { kind: 'generate', path: '/v4.3.1/libpod/kube/generate' }],
  ['POST', '/v4.3.1/libpod/kube/play', { kind: 'unfiltered', path: '/v4.3.1/libpod/kube/play' }],
  ['DELETE', '/libpod/containers/hidden', { kind: 'container', ref: 'hidden', action: '' }],
  ['DELETE', '/libpod/containers/a/b', { kind: 'unfiltered', path: '/libpod/containers/a/b' }],
  ['GET', '/libpod/containers/hidden/exists', { kind: 'container', ref: 'hidden', action: 'exists' }],
  ['HEAD', '/libpod/containers/hidden/exists', { kind: 'unfiltered', path: '/libpod/containers/hidden/exists' }],
  ['GET', '/libpod/containers/a/b/healthcheck', { kind: 'container', ref: 'a/b', action: 'healthcheck' }],
  ['POST', '/libpod/containers/x/mount', { kind: 'container', ref: 'x', action: 'mount' }],
  ['GET', '/libpod/containers/showmounted', { kind: 'unfiltered', path: '/libpod/containers/showmounted' }],
  ['GET', '/v4.3.1/libpod/containers/stats?containers=a', { kind: 'containers-stats', path: '/v4.3.1/libpod/containers/stats', query: 'containers=a' }],
  ['POST', '/v4.3.1/libpod/containers/create', { kind: 'container-create', path: '/v4.3.1/libpod/containers/create' }],
  ['POST', '/v4.3.1/libpod/containers/prune', { kind: 'containers-prune', path: '/v4.3.1/libpod/containers/prune' }],
  ['GET', '/v4.3.1/libpod/exec/abc/json', { kind: 'exec', id: 'abc', action: 'json' }],
  ['POST', '/v4.3.1/libpod/exec/abc/start', { kind: 'exec', id: 'abc', action: 'start' }],
  ['GET', '/v4.3.1/libpod/pods/json', { kind: 'pods-list', path: '/v4.3.1/libpod/pods/json' }],
  ['GET', '/v4.3.1/libpod/pods/stats?namesOrIDs=p', { kind: 'pods-stats', path: '/v4.3.1/libpod/pods/stats', query: 'namesOrIDs=p' }],
  ['GET', '/v4.3.1/libpod/pods/p/top', { kind: 'pod', path: '/v4.3.1/libpod/pods/p/top' }],
  ['DELETE', '/v4.3.1/libpod/pods/p', { kind: 'pod', path: '/v4.3.1/libpod/pods/p' }],
  ['POST', '/v4.3.1/libpod/pods/create', { kind: 'unfiltered', path: '/v4.3.1/libpod/pods/create' }],
  ['POST', '/v4.3.1/libpod/pods/prune', { kind: 'unfiltered', path: '/v4.3.1/libpod/pods/prune' }],
  ['GET', '/v4.3.1/libpod/events?stream=false', { kind: 'events', path: '/v4.3.1/libpod/events', query: 'stream=false' }],
  ['GET', '/v4.3.1/libpod/system/df', { kind: 'system-df', path: '/v4.3.1/libpod/system/df' }],
  ['POST', '/v4.3.1/libpod/system/prune', { kind: 'unfiltered', path: '/v4.3.1/libpod/system/prune' }],
  ['POST', '/v4.3.1/libpod/networks/n/connect', { kind: 'network-connect', path: '/v4.3.1/libpod/networks/n/connect' }],
  ['GET', '/v4.3.1/libpod/networks/n/json', { kind: 'pass', path: '/v4.3.1/libpod/networks/n/json' }],
  ['DELETE', '/v4.3.1/libpod/networks/n', { kind: 'unfiltered', path: '/v4.3.1/libpod/networks/n' }],
  ['POST', '/v4.3.1/libpod/commit?container=a', { kind: 'commit', path: '/v4.3.1/libpod/commit', query: 'container=a' }],
  ['GET', '/v4.3.1/libpod/images/json', { kind: 'pass', path: '/v4.3.1/libpod/images/json' }],
  ['POST', '/v4.3.1/libpod/images/pull', { kind: 'pass', path: '/v4.3.1/libpod/images/pull' }],
  ['DELETE', '/v4.3.1/libpod/images/x', { kind: 'unfiltered', path: '/v4.3.1/libpod/images/x' }],
  ['GET', '/v4.3.1/libpod', { kind: 'unfiltered', path: '/v4.3.1/libpod' }],
  ['GET', '/libpod/%63ontainers/json', { kind: 'containers-list', path: '/libpod/containers/json' }],
  ['GET', '/x/../libpod/containers/json', { kind: 'containers-list', path: '/libpod/containers/json' }],
  ['GET', '/libpod/_ping', { kind: 'pass', path: '/libpod/_ping' }],
  ['HEAD', '/v4.0.0/libpod/_ping', { kind: 'pass', path: '/v4.0.0/libpod/_ping' }],
  ['GET', '/v4.3.1/libpod/version', { kind: 'pass', path: '/v4.3.1/libpod/version' }],
  ['GET', '/libpod/info', { kind: 'pass', path: '/libpod/info' }],
  ['POST', '/libpod/info', { kind: 'unfiltered', path: '/libpod/info' }],
  ['GET', '/libpod/info/x', { kind: 'unfiltered', path: '/libpod/info/x' }],
  ['GET', '/LIBPOD/containers/json', { kind: 'refuse', status: 404 }],
];

describe('classifyTarget', () => {
  it.each(cases)('%s %s', (method, url, expected) => {
    const target = classifyTarget(method, url);
    expect(target.kind).toBe(expected.kind);
    switch (expected.kind) {
      case 'exec':
        expect(target).toMatchObject({ id: expected.id, action: expected.action });
        break;
      case 'swarm-object':
        expect(target).toMatchObject({ resource: expected.resource, id: expected.id, action: expected.action });
        break;
      case 'container':
        expect(target).toMatchObject({ ref: expected.ref, action: expected.action });
        if (expected.version !== undefined) expect(target.version?.text).toBe(expected.version);
        break;
      case 'refuse':
        expect(target).toMatchObject({ status: expected.status });
        break;
      default:
        expect(target).toMatchObject({ path: expected.path, query: expected.query ?? '' });
    }
  });

  it('has a table of at least 40 paths', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('keeps the raw query for the upstream', () => {
    const target = classifyTarget('GET', '/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1');
    expect(target.query).toBe('filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1');
  });
});

describe('containerPath', () => {
  const id = 'c73b1f8f1f5c3e3f9243a0f786a32a30a7d7d6eff0fea59140476ffb64baa1a8';
  it.each([
    ['/containers/web-a/json', 'json', `/containers/${id}/json`],
    ['/v1.41/containers/web-a/attach/ws', 'attach/ws', `/v1.41/containers/${id}/attach/ws`],
    ['/v1.41/containers/web-a', '', `/v1.41/containers/${id}`],
    ['/v4.3.1/libpod/containers/web-a/exists', 'exists', `/v4.3.1/libpod/containers/${id}/exists`],
  ])('%s', (url, action, expected) => {
    const target = classifyTarget(action === '' ? 'DELETE' : url.endsWith('attach/ws') || !url.includes('libpod') ? 'GET' : 'GET', url);
    if (target.kind !== 'container') throw new Error(`${url} is not a container route`);
    expect(containerPath(target, id, action)).toBe(expected);
  });
});

describe('API versions', () => {
  it.each([
    ['1.41', false],
    ['1.24', false],
    ['1.23', true],
    ['1.12', true],
    ['2.0', false],
    ['01.023', true],
    ['1.41.0', false],
  ])('v%s answers errors in plain text: %s', (text, plain) => {
    expect(errorsArePlainText(parseApiVersion(text))).toBe(plain);
  });

  it('unversioned requests get JSON errors', () => {
    expect(errorsArePlainText(undefined)).toBe(false);
  });
});

describe('decodeAndClean', () => {
  it.each([
    ['/a/b', ['a', 'b']],
    ['/a//b/', ['a', 'b']],
    ['/a/./b/../c', ['a', 'c']],
    ['/../../a', ['a']],
    ['/a%2Fb', ['a', 'b']],
    ['/%zz', undefined],
    ['/a%00', undefined],
    ['/a%252F', undefined],
  ])('%s', (raw, expected) => {
    expect(decodeAndClean(raw)).toEqual(expected);
  });
});
