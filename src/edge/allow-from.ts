// ALLOW_FROM: which client addresses may talk to docker-sieve at all. CIDRs and addresses are compiled once;
// host names are resolved at start-up and again every minute, since a peer's address can change.
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';

export interface ClientAllowlist {
  /** False when ALLOW_FROM is empty: every client is allowed. */
  readonly active: boolean;
  allows(address: string | undefined): boolean;
  /** Resolves the host names again (also run once at start-up). */
  refresh(): Promise<void>;
  close(): void;
}

export type AllowEntry = { kind: 'address' | 'subnet'; address: string; prefix?: number; family: 'ipv4' | 'ipv6' } | { kind: 'host'; name: string };

/** Pure: one ALLOW_FROM item. Throws on a malformed CIDR. */
export function parseAllowEntry(item: string): AllowEntry {
  const slash = item.indexOf('/');
  if (slash === -1) {
    const version = isIP(item);
    if (version === 0) return { kind: 'host', name: item };
    return { kind: 'address', address: item, family: version === 4 ? 'ipv4' : 'ipv6' };
  }
  const address = item.slice(0, slash);
  const prefixText = item.slice(slash + 1);
  const version = isIP(address);
  const prefix = Number(prefixText);
  if (version === 0 || !/^[0-9]+$/.test(prefixText) || prefix > (version === 4 ? 32 : 128)) {
    throw new Error(`"${item}" is not a CIDR`);
  }
  return { kind: 'subnet', address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function createClientAllowlist(items: readonly string[], log: Logger, refreshMs = 60_000): ClientAllowlist {
  const entries = items.map(parseAllowEntry);
  const fixed = new BlockList();
  const hosts: string[] = [];
  for (const entry of entries) {
    if (entry.kind === 'host') hosts.push(entry.name);
    else if (entry.kind === 'address') fixed.addAddress(entry.address, entry.family);
    else fixed.addSubnet(entry.address, entry.prefix!, entry.family);
  }
  let resolved = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  async function refresh(): Promise<void> {
    const next = new Set<string>();
    for (const host of hosts) {
      try {
        for (const { address } of await lookup(host, { all: true })) next.add(plainAddress(address));
      } catch (error) {
        log.warn({ host, err: (error as Error).message }, 'ALLOW_FROM: host name did not resolve');
      }
    }
    resolved = next;
  }

  if (hosts.length > 0) {
    timer = setInterval(() => void refresh(), refreshMs);
    timer.unref();
  }

  return {
    active: entries.length > 0,
    allows(address) {
      if (entries.length === 0) return true;
      if (address === undefined) return false;
      const plain = plainAddress(address);
      const family = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
      return fixed.check(plain, family) || resolved.has(plain);
    },
    refresh,
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
