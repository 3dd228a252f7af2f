// SCRUB_ENVS: container inspect with `Config.Env` blanked and every other field unchanged.
export function scrubContainerInspect(body: Buffer): string {
  const inspect = JSON.parse(body.toString('utf8')) as { Config?: { Env?: unknown } | null };
  if (inspect === null || typeof inspect !== 'object' || Array.isArray(inspect)) {
    throw new Error('container inspect is not an object');
  }
  if (inspect.Config !== null && typeof inspect.Config === 'object') inspect.Config.Env = [];
  return `${JSON.stringify(inspect)}\n`;
}

/**
 * SCRUB_ENVS for Podman's native inspect: `Config.Env` blanked, and `Config.CreateCommand` too, since it is the
 * argv of the client that created the container (`podman run --env SECRET=...`).
 */
export function scrubLibpodInspect(body: Buffer): string {
  const inspect = JSON.parse(body.toString('utf8')) as { Config?: { Env?: unknown; CreateCommand?: unknown } | null };
  if (inspect === null || typeof inspect !== 'object' || Array.isArray(inspect)) {
    throw new Error('container inspect is not an object');
  }
  if (inspect.Config !== null && typeof inspect.Config === 'object') {
    inspect.Config.Env = [];
    if (inspect.Config.CreateCommand !== undefined) inspect.Config.CreateCommand = [];
  }
  return `${JSON.stringify(inspect)}\n`;
}
