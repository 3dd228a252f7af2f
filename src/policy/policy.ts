// The one place that decides whether a container is visible. Pure: the matchers are compiled once from the
// config and then only read. Semantics are docker-proxy-filter's: substring matching, case-sensitive, and a
// container is visible if it matches any name value or any label rule.
import type { LabelRule } from '../config.js';

export interface ContainerFacts {
  /** The container's own name, with or without the leading `/`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>> | null | undefined;
}

export interface Decision {
  readonly visible: boolean;
  /** Why, for logs and `preview`: `name contains "foo"`, `label a.b=c matches "a"`, ... */
  readonly reason: string;
}

export interface Policy {
  /** False when neither list is set: everything is visible and nothing needs judging. */
  readonly filtering: boolean;
  visibleContainer(facts: ContainerFacts): boolean;
  /** True when some label rule is set: without one, labels never make a container visible. */
  readonly hasLabelRules: boolean;
  /** The name half of visibleContainer: a name rule matches. */
  visibleByName(name: string): boolean;
  /** The label half of visibleContainer: a label rule matches. */
  visibleByLabels(labels: ContainerFacts['labels']): boolean;
  explain(facts: ContainerFacts): Decision;
}

export interface PolicyRules {
  readonly names: readonly string[];
  readonly labels: readonly LabelRule[];
}


function describeRule(rule: LabelRule): string {
  return rule.value === undefined ? rule.key : `${rule.key}=${rule.value}`;
}

export function compilePolicy(rules: PolicyRules): Policy {
  const names = [...rules.names];
  const labels = [...rules.labels];
  const filtering = names.length > 0 || labels.length > 0;

  function matchName(name: string): string | undefined {
    // The leading `/` is not part of the name: search after it (no sliced copy on every decision).
    const from = name.startsWith('/') ? 1 : 0;
    for (const value of names) if (name.indexOf(value, from) !== -1) return value;
    return undefined;
  }

  function matchLabel(containerLabels: ContainerFacts['labels']): [string, string, LabelRule] | undefined {
    if (containerLabels == null || labels.length === 0) return undefined;
    for (const key in containerLabels) {
      const value = containerLabels[key]!;
      for (const rule of labels) {
        if (key.includes(rule.key) && (rule.value === undefined || value.includes(rule.value))) {
          return [key, value, rule];
        }
      }
    }
    return undefined;
  }

  /** matchLabel without building the answer: what visibility needs, on every decision. */
  function anyLabel(containerLabels: ContainerFacts['labels']): boolean {
    if (containerLabels == null || labels.length === 0) return false;
    for (const key in containerLabels) {
      const value = containerLabels[key]!;
      for (const rule of labels) {
        if (key.includes(rule.key) && (rule.value === undefined || value.includes(rule.value))) return true;
      }
    }
    return false;
  }

  return {
    filtering,
    hasLabelRules: labels.length > 0,
    visibleContainer(facts) {
      if (!filtering) return true;
      return matchName(facts.name) !== undefined || anyLabel(facts.labels);
    },
    visibleByName(name) {
      return !filtering || matchName(name) !== undefined;
    },
    visibleByLabels(containerLabels) {
      return !filtering || anyLabel(containerLabels);
    },
    explain(facts) {
      if (!filtering) return { visible: true, reason: 'no filters set' };
      const value = matchName(facts.name);
      if (value !== undefined) return { visible: true, reason: `name contains "${value}"` };
      const label = matchLabel(facts.labels);
      if (label !== undefined) {
        const [key, labelValue, rule] = label;
        return { visible: true, reason: `label ${key}=${labelValue} matches "${describeRule(rule)}"` };
      }
      return { visible: false, reason: 'no name or label rule matches' };
    },
  };
}

/**
 * A container's own name from a list entry's `Names`: the one entry with a single `/`.
 * The others are legacy link aliases (`/parent/alias`) and must never make a container visible.
 */
export function ownName(names: readonly string[] | null | undefined): string | undefined {
  if (!Array.isArray(names)) return undefined;
  for (const name of names) {
    if (typeof name === 'string' && name.lastIndexOf('/') === 0) return name;
  }
  return undefined;
}

/**
 * mode: audit. Every container is visible, but each one the real policy would hide is reported, so a profile
 * can be rolled out without breaking a client. `visibleByName` stays the real answer: the list filter asks the
 * labels next, and that is where a would-be hidden container is counted.
 */
export function auditPolicy(real: Policy, onWouldHide: () => void): Policy {
  if (!real.filtering) return real;
  return {
    filtering: true,
    hasLabelRules: true,
    visibleContainer(facts) {
      if (!real.visibleContainer(facts)) onWouldHide();
      return true;
    },
    visibleByName: (name) => real.visibleByName(name),
    visibleByLabels(labels) {
      if (!real.visibleByLabels(labels)) onWouldHide();
      return true;
    },
    explain: (facts) => real.explain(facts),
  };
}
