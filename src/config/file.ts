// The configuration file (profiles: one docker-sieve, many clients, each with its own view and rights).
// `parseConfigFile` is pure: text in, a frozen ConfigFile out, or a ConfigFileError that lists every problem found,
// each as `FILE:LINE:COL: KEY.PATH: message`. Nothing is read from disk or the environment here except by
// `loadConfigFile` (the file itself) and `resolveTokens` (token files and variables, through what it is given).
//
// How a file is checked, in order:
//   1. YAML (eemeli/yaml, YAML 1.2 core schema). A syntax error stops here: what follows would judge a guessed
//      document. Duplicate keys and bad aliases are reported, and checking goes on (the first value counts).
//   2. The JSON Schema in schema.ts (ajv, every error): types, unknown keys (with a "did you mean"), enums.
//   3. What a schema says badly: exactly one identity per client and one field per certificate, port or socket,
//      references to profiles, CIDRs, label rules, duplicate listeners, certificate clients without an mTLS listener.
// Steps 2 and 3 both run, so one pass reports all of them.
//
// Decisions a reader of a file should know:
//   - `default` is `deny` when absent: a client that nothing identifies gets nothing, unless the file says so.
//     So `deny` cannot be a profile's name.
//   - A profile with neither `names` nor `labels` sees every container (CONTAINER_NAMES/CONTAINER_LABELS semantics).
//   - A certificate client needs a listener in this file with `tls.ca`: only there are client certificates asked
//     for and verified. Without `listeners` there is none, so that is an error too.
//   - `mode` of a socket listener: "0660", "660" and "0o660" (strings) or 0o660 / 432 (numbers). An unquoted 0660
//     is the decimal 660 in YAML 1.2, above 0o777, and so an error that says so.
//   - Paths (token_file, tls, socket) are kept as written; a relative one is relative to the working directory.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import type * as Yaml from 'yaml';
import type { Document, LineCounter } from 'yaml';
import { parseAllowEntry } from '../edge/allow-from.js';
import { ConfigError, parseLabelRules, parseProxyUrl, type LabelRule, type TlsFiles } from '../config.js';
import { digestToken, normaliseFingerprint } from '../edge/identity.js';
import type { Access } from '../gates/access.js';
import { ACTIONS, CERTIFICATE_FIELDS, CLIENT_IDENTITIES, CONFIG_FILE_SCHEMA, type Action } from './schema.js';

export { ACTIONS, type Action } from './schema.js';

// ---------------------------------------------------------------------------------------------------------------
// The result

/** Where something was written, for messages. `path` is the key path (`clients[0]`, `profiles.kuma.access`). */
export interface SourcePosition {
  readonly file: string;
  /** 1-based; 0 when no line applies (the file could not be read). */
  readonly line: number;
  readonly column: number;
  readonly path: string;
}

export interface ConfigFileIssue extends SourcePosition {
  readonly message: string;
}

export type ListenerSpec =
  | {
      readonly kind: 'tcp';
      readonly port: number;
      /** undefined: as LISTEN_ADDRESS would (every interface). */
      readonly address: string | undefined;
      readonly tls: TlsFiles | undefined;
      /** Set: every request on this listener gets this profile, whatever it presents. */
      readonly profile: string | undefined;
      readonly where: SourcePosition;
    }
  | {
      readonly kind: 'unix';
      readonly socket: string;
      /** File mode of the socket, 0o660 unless the file says otherwise. */
      readonly mode: number;
      readonly profile: string | undefined;
      readonly where: SourcePosition;
    };

export type TokenSource =
  | { readonly kind: 'file'; readonly path: string }
  /** Lowercase hex of the token's SHA-256. */
  | { readonly kind: 'sha256'; readonly sha256: string }
  | { readonly kind: 'env'; readonly name: string };

export interface CertificateRule {
  readonly field: 'cn' | 'san' | 'sha256';
  /** For sha256: lowercase hex without colons. */
  readonly value: string;
}

/** One `clients` entry; `where` is the entry itself (for messages about it, as resolveTokens gives). */
export type ClientSpec =
  | { readonly kind: 'token'; readonly profile: string; readonly token: TokenSource; readonly where: SourcePosition }
  | { readonly kind: 'certificate'; readonly profile: string; readonly certificate: CertificateRule; readonly where: SourcePosition }
  | { readonly kind: 'from'; readonly profile: string; readonly from: readonly string[]; readonly where: SourcePosition };

export type { Access } from '../gates/access.js';

export interface ProfileSpec {
  readonly name: string;
  /** CONTAINER_NAMES semantics, trimmed. */
  readonly names: readonly string[];
  /** CONTAINER_LABELS semantics. */
  readonly labels: readonly LabelRule[];
  readonly scrubEnvs: boolean;
  readonly access: Access;
  /** audit: decide and log as if enforcing, but let the request through. */
  readonly mode: 'enforce' | 'audit';
}

export interface ConfigFile {
  /** As PROXY_URL; undefined: PROXY_URL decides. */
  readonly upstream?: string;
  /** undefined: one TCP listener as PORT/LISTEN_ADDRESS (and TLS_*) say. */
  readonly listeners?: readonly ListenerSpec[];
  /** Tried in order, first match wins (see src/edge/identity.ts for how credentials take precedence). */
  readonly clients: readonly ClientSpec[];
  readonly default: 'deny' | string;
  readonly profiles: ReadonlyMap<string, ProfileSpec>;
}

export class ConfigFileError extends Error {
  readonly errors: readonly ConfigFileIssue[];
  constructor(errors: readonly ConfigFileIssue[]) {
    super(errors.map(formatIssue).join('\n'));
    this.name = 'ConfigFileError';
    this.errors = Object.freeze(errors.map((issue) => Object.freeze({ ...issue })));
  }
}

/** `FILE:LINE:COL: KEY.PATH: message`; without a line, `FILE: ...`; without a path (the document), no `KEY.PATH: `. */
export function formatIssue(issue: ConfigFileIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Small pure helpers (exported for the tests and for the wiring)

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions: `lables` is 1 from `labels`). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/** The nearest candidate, if it is close: at most a third of the longer word's letters away (at least 1). */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    const limit = Math.max(1, Math.floor(Math.max(word.length, candidate.length) / 3));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function didYouMean(word: string, candidates: readonly string[]): string {
  const hint = nearest(word, candidates);
  return hint === undefined ? '' : `; did you mean "${hint}"?`;
}

/** A token as written in a token file or variable: trailing whitespace (the newline `echo` adds) is not part of it. */
export function tokenFromText(text: string): string {
  return text.replace(/\s+$/u, '');
}

/** A ReadonlyMap that is also read-only at run time (Object.freeze does not stop Map.set). */
class SealedMap<K, V> extends Map<K, V> {
  #sealed = false;
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    this.#sealed = true;
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (this.#sealed) throw new TypeError('a configuration map is read-only');
    return super.set(key, value);
  }
  override delete(): boolean {
    throw new TypeError('a configuration map is read-only');
  }
  override clear(): void {
    throw new TypeError('a configuration map is read-only');
  }
}

class SealedSet<T> extends Set<T> {
  #sealed = false;
  constructor(values: Iterable<T>) {
    super();
    for (const value of values) super.add(value);
    this.#sealed = true;
    Object.freeze(this);
  }
  override add(value: T): this {
    if (this.#sealed) throw new TypeError('a configuration set is read-only');
    return super.add(value);
  }
  override delete(): boolean {
    throw new TypeError('a configuration set is read-only');
  }
  override clear(): void {
    throw new TypeError('a configuration set is read-only');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// YAML → plain values, remembering where each came from

type Plain = null | boolean | number | string | Plain[] | PlainMap;
interface PlainMap {
  [key: string]: Plain;
}

interface Located {
  /** Key path for messages. */
  readonly display: string;
  /** Offset of the value (or of the key, when the value is empty). */
  readonly offset: number;
  /** Offset of the key, for a value in a mapping. */
  readonly keyOffset: number | undefined;
  /** End of the value, to find what encloses an offset. */
  readonly end: number;
}

interface Problem {
  readonly pointer: string;
  readonly message: string;
  readonly atKey: boolean;
  /** Set: report here rather than where the pointer is. */
  readonly offset?: number;
  /** The value at the pointer could not be read: other problems there or below it are consequences. */
  readonly broken?: boolean;
}

const MAX_NODES = 100_000;

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON pointer, as ajv's instancePath. */
function pointerOf(...segments: ReadonlyArray<string | number>): string {
  return segments.map((segment) => `/${escapePointer(String(segment))}`).join('');
}

function childDisplay(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

function isPlainMap(value: unknown): value is PlainMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(map: PlainMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(map, key);
}

class Converter {
  readonly index = new Map<string, Located>();
  readonly problems: Problem[] = [];
  private nodes = 0;

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  convert(node: unknown, pointer: string, display: string, keyOffset: number | undefined, fallback: number, ancestors: readonly unknown[]): Plain {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    // An empty value (`key:` and nothing) is where its key is.
    const empty = range === undefined || (yaml().isScalar(node) && node.value === null && range[0] === range[1]);
    const offset = empty ? (keyOffset ?? range?.[0] ?? fallback) : range[0];
    this.index.set(pointer, { display, offset, keyOffset, end: range?.[2] ?? offset });
    if (++this.nodes > MAX_NODES) {
      if (this.nodes === MAX_NODES + 1) this.problems.push({ pointer, message: `more than ${MAX_NODES} values (aliases?)`, atKey: false });
      return null;
    }
    if (node === null || node === undefined) return null;
    if (yaml().isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) {
        this.problems.push({ pointer, message: `alias *${node.source} has no anchor before it`, atKey: false, broken: true });
        return null;
      }
      if (ancestors.includes(target)) {
        this.problems.push({ pointer, message: `alias *${node.source} refers to a value that contains it`, atKey: false, broken: true });
        return null;
      }
      // The alias's own position for itself; what it contains is found where the anchor is.
      const value = this.convert(target, pointer, display, keyOffset, offset, ancestors);
      this.index.set(pointer, { display, offset, keyOffset, end: range?.[2] ?? offset });
      return value;
    }
    if (yaml().isScalar(node)) {
      const value = node.value;
      if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
      this.problems.push({ pointer, message: 'unsupported value (a plain string, number, true/false or a list/mapping of them)', atKey: false, broken: true });
      return null;
    }
    const inside = [...ancestors, node];
    if (yaml().isSeq(node)) {
      return node.items.map((item, i) => this.convert(item, `${pointer}/${i}`, childDisplay(display, i), undefined, offset, inside));
    }
    if (yaml().isMap(node)) {
      const result: PlainMap = Object.create(null) as PlainMap;
      const firstAt = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key as unknown;
        const keyStart = (keyNode as { range?: [number, number, number] } | null)?.range?.[0] ?? offset;
        let key: string;
        if (yaml().isScalar(keyNode) && keyNode.value !== null && typeof keyNode.value !== 'object') {
          key = String(keyNode.value);
        } else {
          this.problems.push({ pointer, message: 'a key must be a plain string', atKey: false, offset: keyStart });
          continue;
        }
        const childPointer = `${pointer}/${escapePointer(key)}`;
        const first = firstAt.get(key);
        if (first !== undefined) {
          const line = this.lineOf(first);
          this.problems.push({ pointer: childPointer, message: `duplicate key (first at line ${line})`, atKey: true, offset: keyStart });
          continue;
        }
        firstAt.set(key, keyStart);
        result[key] = this.convert(pair.value, childPointer, childDisplay(display, key), keyStart, keyStart, inside);
      }
      return result;
    }
    this.problems.push({ pointer, message: 'unsupported YAML node', atKey: false, broken: true });
    return null;
  }

  private lineOf(offset: number): number {
    return this.lineCounter.linePos(offset).line;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The schema, compiled once

// The YAML parser and the schema validator are loaded on the first config file, not at start-up: without
// CONFIG_FILE they would only cost memory (about 20 MB of RSS between them).
const load = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
/** The `yaml` package, loaded on first use. */
export function yaml(): typeof Yaml {
  return (yamlModule ??= load('yaml') as typeof Yaml);
}

let compiled: ReturnType<InstanceType<typeof import('ajv').Ajv>['compile']> | undefined;

function schemaValidator(): ReturnType<InstanceType<typeof import('ajv').Ajv>['compile']> {
  if (compiled === undefined) {
    const { Ajv } = load('ajv') as typeof import('ajv');
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true });
    // Our messages, per failing keyword (an annotation: ajv does not validate with it).
    ajv.addKeyword({ keyword: 'hint', schemaType: 'object' });
    compiled = ajv.compile(CONFIG_FILE_SCHEMA);
  }
  return compiled;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'empty',
};

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

function hintFor(error: ErrorObject): string | undefined {
  const hint = (error.parentSchema as { hint?: Record<string, string> } | undefined)?.hint;
  return hint?.[error.keyword];
}

function schemaProblem(error: ErrorObject): Problem | undefined {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'if':
      return undefined; // the failing branch reports for itself
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { pointer: `${error.instancePath}/${escapePointer(key)}`, message: `unknown key${didYouMean(key, known)}`, atKey: true };
    }
    case 'required':
      return { pointer: error.instancePath, message: `"${String(params.missingProperty)}" is required`, atKey: false };
    case 'type': {
      const wanted = String(params.type)
        .split(',')
        .map((type) => TYPE_WORDS[type] ?? type)
        .join(' or ');
      const quote = String(params.type).includes('string') && (typeof error.data === 'number' || typeof error.data === 'boolean');
      return {
        pointer: error.instancePath,
        message: `must be ${wanted}, not ${describe(error.data)}${quote ? ` (quote it: "${String(error.data)}")` : ''}`,
        atKey: false,
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const hint = typeof error.data === 'string' ? didYouMean(error.data, allowed) : '';
      return { pointer: error.instancePath, message: `${describe(error.data)} is not one of ${allowed.join(', ')}${hint}`, atKey: false };
    }
    case 'pattern':
      return { pointer: error.instancePath, message: hintFor(error) ?? `must match ${String(params.pattern)}`, atKey: false };
    case 'minimum':
    case 'maximum':
      return {
        pointer: error.instancePath,
        message: hintFor(error) ?? `must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}`,
        atKey: false,
      };
    case 'minItems':
    case 'minProperties':
      return { pointer: error.instancePath, message: hintFor(error) ?? 'must not be empty', atKey: false };
    default:
      return { pointer: error.instancePath, message: error.message ?? `fails ${error.keyword}`, atKey: false };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What the schema says badly

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function semanticProblems(root: Plain): Problem[] {
  const problems: Problem[] = [];
  const report = (pointer: string, message: string, atKey = false): void => void problems.push({ pointer, message, atKey });
  if (!isPlainMap(root)) return problems;

  const profiles = isPlainMap(root.profiles) ? root.profiles : undefined;
  const profileNames = profiles === undefined ? [] : Object.keys(profiles);
  const checkReference = (pointer: string, value: Plain | undefined): void => {
    if (typeof value !== 'string' || profiles === undefined) return;
    const name = value.trim();
    if (name === '' || has(profiles, name)) return;
    report(pointer, `no profile "${name}"${didYouMean(name, profileNames)}`);
  };

  if (typeof root.upstream === 'string' && root.upstream.trim() !== '') {
    try {
      parseProxyUrl(root.upstream);
    } catch (error) {
      const problem = error instanceof ConfigError ? error.message.slice(`${error.variable}: `.length) : (error as Error).message;
      report(pointerOf('upstream'), problem);
    }
  }

  if (profiles !== undefined) {
    for (const name of profileNames) {
      const at = pointerOf('profiles', name);
      if (name === 'deny') report(at, '"deny" cannot be a profile name (default: deny means no profile)', true);
      else if (!PROFILE_NAME.test(name)) report(at, 'a profile name is up to 64 letters, digits, _ and -, starting with a letter or digit', true);
      const profile = profiles[name];
      if (!isPlainMap(profile)) continue;
      for (const list of ['names', 'labels'] as const) {
        const items = profile[list];
        if (!Array.isArray(items)) continue;
        items.forEach((item, i) => {
          if (typeof item !== 'string' || item.trim() === '') return;
          const itemAt = pointerOf('profiles', name, list, i);
          if (item.includes(',')) report(itemAt, `one ${list === 'names' ? 'name' : 'label rule'} per list item (no commas)`);
          else if (list === 'labels' && parseLabelRules(item)[0]?.key === '') report(itemAt, 'a label rule needs a key (key or key=value)');
        });
      }
    }
  }

  let mutualTls = false;
  const listeners = Array.isArray(root.listeners) ? root.listeners : [];
  const ports = new Map<string, number>();
  const sockets = new Map<string, number>();
  listeners.forEach((listener, i) => {
    if (!isPlainMap(listener)) return;
    const at = (key?: string): string => (key === undefined ? pointerOf('listeners', i) : pointerOf('listeners', i, key));
    const port = has(listener, 'port');
    const socket = has(listener, 'socket');
    if (!port && !socket) report(at(), 'needs port or socket');
    if (port && socket) report(at('socket'), 'a listener has port or socket, not both', true);
    if (!port && socket) {
      for (const key of ['tls', 'address']) if (has(listener, key)) report(at(key), `${key} is only for port listeners`, true);
    }
    if (port && !socket && has(listener, 'mode')) report(at('mode'), 'mode is only for socket listeners', true);
    if (port && isPlainMap(listener.tls) && typeof listener.tls.ca === 'string') mutualTls = true;
    checkReference(at('profile'), listener.profile);
    if (port && typeof listener.port === 'number') {
      const address = typeof listener.address === 'string' ? listener.address.trim() : '';
      const key = `${address} ${listener.port}`;
      const first = ports.get(key);
      if (first !== undefined) report(at('port'), `port ${listener.port} is already listeners[${first}]`);
      else ports.set(key, i);
    }
    if (socket && typeof listener.socket === 'string') {
      const first = sockets.get(listener.socket.trim());
      if (first !== undefined) report(at('socket'), `socket ${listener.socket.trim()} is already listeners[${first}]`);
      else sockets.set(listener.socket.trim(), i);
    }
  });

  const clients = Array.isArray(root.clients) ? root.clients : [];
  const certificateClients: string[] = [];
  clients.forEach((client, i) => {
    if (!isPlainMap(client)) return;
    const identities = CLIENT_IDENTITIES.filter((key) => has(client, key));
    if (identities.length === 0) {
      report(pointerOf('clients', i), `needs an identity: one of ${CLIENT_IDENTITIES.join(', ')}`);
    }
    for (const extra of identities.slice(1)) {
      report(pointerOf('clients', i, extra), `a client has exactly one identity, and this one has ${identities[0]} already`, true);
    }
    const certificate = client.certificate;
    if (has(client, 'certificate')) certificateClients.push(pointerOf('clients', i, 'certificate'));
    if (isPlainMap(certificate)) {
      const fields = CERTIFICATE_FIELDS.filter((key) => has(certificate, key));
      if (fields.length === 0) report(pointerOf('clients', i, 'certificate'), `needs one of ${CERTIFICATE_FIELDS.join(', ')}`);
      for (const extra of fields.slice(1)) {
        report(pointerOf('clients', i, 'certificate', extra), `a certificate rule has exactly one of cn, san or sha256, and this one has ${fields[0]} already`, true);
      }
    }
    if (Array.isArray(client.from)) {
      client.from.forEach((item, j) => {
        if (typeof item !== 'string' || item.trim() === '') return;
        let entry: ReturnType<typeof parseAllowEntry> | undefined;
        try {
          entry = parseAllowEntry(item.trim());
        } catch {
          entry = undefined;
        }
        if (entry === undefined || entry.kind === 'host') report(pointerOf('clients', i, 'from', j), `${describe(item)} is not an IP address or CIDR`);
      });
    }
    checkReference(pointerOf('clients', i, 'profile'), client.profile);
  });
  if (!mutualTls) {
    for (const at of certificateClients) {
      report(at, 'needs a port listener with tls.ca in listeners: only there are client certificates asked for and verified', true);
    }
  }

  if (typeof root.default === 'string' && root.default.trim() !== 'deny') {
    const name = root.default.trim();
    if (name !== '' && profiles !== undefined && !has(profiles, name)) {
      report(pointerOf('default'), `no profile "${name}"; use deny or a profile's name${didYouMean(name, profileNames)}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The typed value (only built from a file with no problems, so the shapes are known)

function parseMode(value: Plain | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parseInt(value.replace(/^0o/, ''), 8);
  return 0o660;
}

function build(root: PlainMap, position: (pointer: string) => SourcePosition): ConfigFile {
  const str = (value: Plain | undefined): string | undefined => (typeof value === 'string' ? value.trim() : undefined);
  const profiles = new SealedMap<string, ProfileSpec>(
    Object.entries(root.profiles as PlainMap).map(([name, raw]) => {
      const profile = raw as PlainMap;
      const access = profile.access;
      const spec: ProfileSpec = Object.freeze({
        name,
        names: Object.freeze(((profile.names ?? []) as string[]).map((item) => item.trim())),
        labels: Object.freeze(((profile.labels ?? []) as string[]).map((item) => Object.freeze(parseLabelRules(item)[0]!))),
        scrubEnvs: profile.scrub_envs === true,
        access: Object.freeze(
          access === 'read'
            ? { kind: 'read' as const }
            : isPlainMap(access)
              ? { kind: 'actions' as const, actions: new SealedSet((access.actions as Action[]).slice()) }
              : { kind: 'all' as const },
        ),
        mode: profile.mode === 'audit' ? 'audit' : 'enforce',
      });
      return [name, spec] as const;
    }),
  );

  const listeners = Array.isArray(root.listeners)
    ? Object.freeze(
        root.listeners.map((raw, i): ListenerSpec => {
          const listener = raw as PlainMap;
          const where = position(pointerOf('listeners', i));
          const profile = str(listener.profile);
          if (has(listener, 'socket')) {
            return Object.freeze({ kind: 'unix', socket: str(listener.socket)!, mode: parseMode(listener.mode), profile, where });
          }
          const tls = isPlainMap(listener.tls)
            ? Object.freeze({ cert: str(listener.tls.cert)!, key: str(listener.tls.key)!, ca: str(listener.tls.ca) })
            : undefined;
          return Object.freeze({ kind: 'tcp', port: listener.port as number, address: str(listener.address), tls, profile, where });
        }),
      )
    : undefined;

  const clients = Object.freeze(
    ((root.clients ?? []) as PlainMap[]).map((client, i): ClientSpec => {
      const where = position(pointerOf('clients', i));
      const profile = str(client.profile)!;
      if (has(client, 'token_file')) return Object.freeze({ kind: 'token', profile, token: Object.freeze({ kind: 'file', path: str(client.token_file)! }), where });
      if (has(client, 'token_sha256')) {
        return Object.freeze({ kind: 'token', profile, token: Object.freeze({ kind: 'sha256', sha256: str(client.token_sha256)!.toLowerCase() }), where });
      }
      if (has(client, 'token_env')) return Object.freeze({ kind: 'token', profile, token: Object.freeze({ kind: 'env', name: str(client.token_env)! }), where });
      if (isPlainMap(client.certificate)) {
        const certificate = client.certificate;
        const field = CERTIFICATE_FIELDS.find((key) => has(certificate, key))!;
        const raw = str(certificate[field])!;
        const value = field === 'sha256' ? normaliseFingerprint(raw) : raw;
        return Object.freeze({ kind: 'certificate', profile, certificate: Object.freeze({ field, value }), where });
      }
      return Object.freeze({ kind: 'from', profile, from: Object.freeze((client.from as string[]).map((item) => item.trim())), where });
    }),
  );

  const result: ConfigFile = {
    ...(typeof root.upstream === 'string' ? { upstream: root.upstream.trim() } : {}),
    ...(listeners === undefined ? {} : { listeners }),
    clients,
    default: str(root.default) ?? 'deny',
    profiles,
  };
  return Object.freeze(result);
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points

/** Pure: the text of a configuration file → a frozen ConfigFile, or a ConfigFileError with every problem. */
export function parseConfigFile(text: string, fileName: string): ConfigFile {
  const lineCounter = new (yaml().LineCounter)();
  // uniqueKeys: false: duplicate keys are found (with their path) by the converter below.
  const doc = yaml().parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, version: '1.2' });
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(1, line), column: Math.max(1, col) };
  };

  const converter = new Converter(doc, lineCounter);
  const root = converter.convert(doc.contents, '', '', undefined, 0, []);
  const issues: Array<ConfigFileIssue & { order: number }> = [];
  const add = (offset: number, path: string, message: string): void => {
    issues.push({ file: fileName, ...at(offset), path, message, order: issues.length });
  };
  const enclosing = (offset: number): string => {
    let best: Located | undefined;
    for (const located of converter.index.values()) {
      const start = located.keyOffset ?? located.offset;
      if (start <= offset && offset < Math.max(located.end, start + 1)) {
        if (best === undefined || located.end - start <= best.end - (best.keyOffset ?? best.offset)) best = located;
      }
    }
    return best?.display ?? '';
  };
  const addProblem = (problem: Problem): void => {
    const located = converter.index.get(problem.pointer) ?? converter.index.get('')!;
    const offset = problem.offset ?? (problem.atKey ? (located.keyOffset ?? located.offset) : located.offset);
    add(offset, located.display, problem.message);
  };

  for (const error of [...doc.errors, ...doc.warnings]) {
    add(error.pos[0], enclosing(error.pos[0]), `YAML: ${error.message}`);
  }
  // After a syntax error the document is the parser's guess: judging it further would report made-up problems.
  if (doc.errors.length === 0) {
    for (const problem of converter.problems) addProblem(problem);
    const broken = converter.problems.filter((problem) => problem.broken === true).map((problem) => problem.pointer);
    const consequence = (problem: Problem): boolean =>
      broken.some((pointer) => problem.pointer === pointer || problem.pointer.startsWith(`${pointer}/`));
    const validate = schemaValidator();
    const schemaProblems = validate(root) ? [] : (validate.errors ?? []).map(schemaProblem);
    for (const problem of [...schemaProblems, ...semanticProblems(root)]) {
      if (problem !== undefined && !consequence(problem)) addProblem(problem);
    }
  }

  if (issues.length > 0) {
    const seen = new Set<string>();
    const sorted = issues
      .sort((a, b) => a.line - b.line || a.column - b.column || a.order - b.order)
      .map(({ order: _order, ...issue }) => issue)
      .filter((issue) => {
        const line = formatIssue(issue);
        if (seen.has(line)) return false;
        seen.add(line);
        return true;
      });
    throw new ConfigFileError(sorted);
  }

  const position = (pointer: string): SourcePosition => {
    const located = converter.index.get(pointer)!;
    return Object.freeze({ file: fileName, ...at(located.offset), path: located.display });
  };
  return build(root as PlainMap, position);
}

/** Reads and parses a configuration file; messages name it as `path` was given. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError([{ file: path, line: 0, column: 0, path: '', message: `cannot be read: ${(error as Error).message}` }]);
  }
  return parseConfigFile(text, path);
}

export interface TokenSources {
  /** As readFileSync: throws if the file cannot be read. */
  readFile(path: string): string | Buffer;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The SHA-256 digest of each token client's token, by client. token_sha256 is taken as written; a token file's or
 * variable's text loses its trailing whitespace (tokenFromText) and is then hashed: the raw token is not kept.
 * Every problem is reported at the client entry: a file that cannot be read or is empty, a variable unset or empty,
 * and two clients with the same token (the second could never match).
 */
export function resolveTokens(clients: readonly ClientSpec[], sources: TokenSources): ReadonlyMap<ClientSpec, Buffer> {
  const digests = new Map<ClientSpec, Buffer>();
  const issues: ConfigFileIssue[] = [];
  const firstByDigest = new Map<string, ClientSpec>();
  for (const client of clients) {
    if (client.kind !== 'token') continue;
    const source = client.token;
    const fail = (key: string, message: string): void => {
      issues.push({ ...client.where, path: `${client.where.path}.${key}`, message });
    };
    let digest: Buffer | undefined;
    if (source.kind === 'sha256') {
      digest = Buffer.from(source.sha256, 'hex');
    } else if (source.kind === 'file') {
      let text: string | undefined;
      try {
        const content = sources.readFile(source.path);
        text = typeof content === 'string' ? content : content.toString('utf8');
      } catch (error) {
        fail('token_file', `${source.path} cannot be read: ${(error as Error).message}`);
      }
      if (text !== undefined) {
        const token = tokenFromText(text);
        if (token === '') fail('token_file', `${source.path} is empty`);
        else digest = digestToken(token);
      }
    } else {
      const value = sources.env[source.name];
      if (value === undefined) fail('token_env', `${source.name} is not set`);
      else if (tokenFromText(value) === '') fail('token_env', `${source.name} is empty`);
      else digest = digestToken(tokenFromText(value));
    }
    if (digest === undefined) continue;
    const hex = digest.toString('hex');
    const first = firstByDigest.get(hex);
    if (first !== undefined) {
      issues.push({ ...client.where, message: `has the same token as ${first.where.path} (line ${first.where.line}), so it could never match` });
      continue;
    }
    firstByDigest.set(hex, client);
    digests.set(client, digest);
  }
  if (issues.length > 0) throw new ConfigFileError(issues);
  return new SealedMap(digests);
}
