// The configuration file's shape as a JSON Schema (checked by ajv). The names here are a contract: other tooling
// writes and reads these files. The schema says what each value looks like; what a schema says badly (exactly one
// of several keys, references between sections, CIDRs, label rules) is checked in code, in file.ts.
//
// `hint` is an annotation of ours (registered with ajv as a keyword without validation): per failing keyword, the
// message to show instead of ajv's own.

import { CONTAINER_ACTIONS, type ContainerAction } from '../gates/access.js';

/** The container actions an `access: { actions: [...] }` may grant: the access gate's list. */
export const ACTIONS = CONTAINER_ACTIONS;
export type Action = ContainerAction;

/** Identity keys of a client entry: exactly one is given. */
export const CLIENT_IDENTITIES = ['token_file', 'token_sha256', 'token_env', 'certificate', 'from'] as const;
export const CERTIFICATE_FIELDS = ['cn', 'san', 'sha256'] as const;

const nonBlank = { type: 'string', pattern: '\\S', hint: { pattern: 'must not be empty' } } as const;

const absolutePath = {
  type: 'string',
  pattern: '^/',
  hint: { pattern: 'must be an absolute path (starting with /)' },
} as const;

const hex64 = '^[0-9A-Fa-f]{64}$';

const tls = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: { cert: nonBlank, key: nonBlank, ca: nonBlank },
} as const;

const listener = {
  type: 'object',
  additionalProperties: false,
  properties: {
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    address: nonBlank,
    tls,
    socket: absolutePath,
    mode: {
      type: ['string', 'integer'],
      if: { type: 'string' },
      then: {
        pattern: '^(0|0o)?[0-7]{3}$',
        hint: { pattern: 'must be an octal file mode such as "0660"' },
      },
      else: {
        minimum: 0,
        maximum: 0o777,
        hint: {
          minimum: 'must be a file mode between 0 and 0o777',
          // The usual slip: YAML 1.2 reads an unquoted 0660 as the decimal number 660.
          maximum: 'must be a file mode between 0 and 0o777 (an unquoted 0660 is the decimal 660 in YAML: write "0660" or 0o660)',
        },
      },
    },
    profile: nonBlank,
  },
} as const;

const client = {
  type: 'object',
  additionalProperties: false,
  required: ['profile'],
  properties: {
    token_file: nonBlank,
    token_sha256: {
      type: 'string',
      pattern: hex64,
      hint: { pattern: 'must be 64 hex digits (the output of docker-sieve hash-token or sha256sum)' },
    },
    token_env: {
      type: 'string',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      hint: { pattern: 'must be the name of an environment variable' },
    },
    certificate: {
      type: 'object',
      additionalProperties: false,
      properties: {
        cn: nonBlank,
        san: nonBlank,
        sha256: {
          type: 'string',
          pattern: `${hex64}|^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$`,
          hint: { pattern: 'must be a SHA-256 fingerprint: 64 hex digits, with or without colons' },
        },
      },
    },
    from: { type: 'array', minItems: 1, items: nonBlank },
    profile: nonBlank,
  },
} as const;

const profile = {
  type: 'object',
  additionalProperties: false,
  properties: {
    names: { type: 'array', items: nonBlank },
    labels: { type: 'array', items: nonBlank },
    scrub_envs: { type: 'boolean' },
    access: {
      type: ['string', 'object'],
      if: { type: 'string' },
      then: { enum: ['all', 'read'] },
      else: {
        additionalProperties: false,
        required: ['actions'],
        properties: {
          actions: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', enum: ACTIONS },
            hint: { minItems: 'must not be empty (use access: read for no actions)' },
          },
        },
      },
    },
    mode: { type: 'string', enum: ['enforce', 'audit'] },
  },
} as const;

export const CONFIG_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['profiles'],
  properties: {
    upstream: nonBlank,
    listeners: { type: 'array', minItems: 1, items: listener },
    clients: { type: 'array', items: client },
    default: nonBlank,
    profiles: {
      type: 'object',
      minProperties: 1,
      additionalProperties: profile,
      hint: { minProperties: 'must name at least one profile' },
    },
  },
} as const;
