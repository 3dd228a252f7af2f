// SCRUB_ENVS for exec inspect: the command line can carry secrets, so its arguments are blanked. An exec's env
// is not in its inspect.
export function scrubExecInspect(body: Buffer): string {
  const inspect = JSON.parse(body.toString('utf8')) as { ProcessConfig?: { arguments?: unknown; entrypoint?: unknown } | null };
  if (inspect === null || typeof inspect !== 'object' || Array.isArray(inspect)) throw new Error('exec inspect is not an object');
  if (inspect.ProcessConfig !== null && typeof inspect.ProcessConfig === 'object') {
    inspect.ProcessConfig.arguments = [];
    inspect.ProcessConfig.entrypoint = '';
  }
  return `${JSON.stringify(inspect)}\n`;
}

