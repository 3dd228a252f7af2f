// One 'exit' listener on the process for every harness cleanup. Vitest evaluates the harness modules again for
// each test file of a worker, so a hook per module instance added a listener per file (and Node's
// MaxListenersExceededWarning after ten); the registry lives on globalThis, which the files share.
const REGISTRY = Symbol.for('docker-sieve.test-harness.exit-hooks');

type Registry = Set<() => void>;

/** Runs `hook` when the process exits (a last resort: teardown normally does it first). */
export function atProcessExit(hook: () => void): void {
  const holder = globalThis as { [REGISTRY]?: Registry };
  let hooks = holder[REGISTRY];
  if (hooks === undefined) {
    const registry: Registry = new Set();
    hooks = registry;
    holder[REGISTRY] = registry;
    process.once('exit', () => {
      for (const run of registry) {
        try {
          run();
        } catch {
          // one failed cleanup must not stop the others
        }
      }
    });
  }
  hooks.add(hook);
}
