// A reload of the config file: what may change without a restart, and watching the file. The process wiring is
// in server.ts.
import { unwatchFile, watchFile } from 'node:fs';
import type { Settings } from './load.js';
import { sameListeners } from '../edge/listeners.js';

/** undefined: `next` may be swapped in. Otherwise why it needs a restart. */
export function needsRestart(current: Settings, next: Settings): string | undefined {
  if (!sameListeners(current.listeners, next.listeners)) return 'the listeners changed, which needs a restart';
  if (current.config.proxyUrl !== next.config.proxyUrl) return 'the upstream changed, which needs a restart';
  return undefined;
}

/**
 * Calls `onChange` once the file has stopped changing for `debounceMs`. Polling (like the TLS files): an editor
 * that writes a new file and renames it over the old one is seen, where an inotify watch would lose the file.
 */
export function watchConfigFile(path: string, onChange: () => void, intervalMs = 500, debounceMs = 300): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  watchFile(path, { interval: intervalMs, persistent: false }, changed);
  return () => {
    clearTimeout(timer);
    unwatchFile(path, changed);
  };
}
