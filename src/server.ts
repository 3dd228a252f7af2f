#!/usr/bin/env -S node --max-semi-space-size=2
// Process concerns: the command line, the config, building the app, listening, and closing gracefully on
// SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { buildApp } from './app.js';
import { ConfigError, withDotenv, type Config, type Env } from './config.js';
import { loadSettings, type Settings } from './config/load.js';
import { ConfigFileError } from './config/file.js';
import { needsRestart, watchConfigFile } from './config/reload.js';
import { describeListener, startListeners, type RunningListener } from './edge/listeners.js';
import { parseInvocation, usage, UsageError, withFlags, type Invocation } from './cli/args.js';
import type { Logger } from 'pino';
import { formatIssue } from './config/file.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Is the young generation bounded, as the bin's shebang, `npm start` and the image bound it? */
function youngGenerationBounded(): boolean {
  const flag = /--max-semi-space-size[= ]/;
  return process.execArgv.some((arg) => flag.test(`${arg} `)) || flag.test(`${process.env.NODE_OPTIONS ?? ''} `);
}

function fail(message: string): never {
  process.stderr.write(`docker-sieve: ${message}\n`);
  process.exit(1);
}

function loadSettingsOrExit(env: Env): Settings {
  try {
    return loadSettings(env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`);
    if (error instanceof ConfigFileError) fail(`configuration error:\n${error.message}`);
    throw error;
  }
}

/** JSON logs, or pretty ones on a terminal when the optional pino-pretty is installed. */
function loggerOptions(level: string): object {
  if (!process.stdout.isTTY) return { level };
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return { level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } };
  } catch {
    return { level };
  }
}

async function listen(app: Awaited<ReturnType<typeof buildApp>>, config: Config): Promise<void> {
  if (config.listenAddress !== undefined) {
    await app.listen({ port: config.port, host: config.listenAddress });
    return;
  }
  try {
    // `::` is every interface, IPv4 included, wherever IPv6 is enabled.
    await app.listen({ port: config.port, host: '::' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT' && (error as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw error;
    await app.listen({ port: config.port, host: '0.0.0.0' });
  }
}

async function main(): Promise<void> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) fail(`${error.message}\n\n${usage(VERSION)}`);
    throw error;
  }
  if (invocation.command === 'help') {
    process.stdout.write(usage(VERSION));
    return;
  }
  if (invocation.command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // Needs no configuration: a token in, its SHA-256 out.
  if (invocation.command === 'hash-token') {
    // Each command's module is loaded when it runs: `serve` needs none of them.
    const { runHashToken } = await import('./cli/hash-token.js');
    process.exitCode = await runHashToken(process.stdin, (text) => process.stdout.write(text), (text) => process.stderr.write(text));
    return;
  }
  let fileEnv: Env;
  try {
    fileEnv = withDotenv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`);
    throw error;
  }
  const env = withFlags(fileEnv, invocation.flags);
  if (invocation.command === 'validate') {
    const { runValidate } = await import('./cli/validate.js');
    process.exitCode = runValidate(env, { write: (text) => process.stdout.write(text), writeError: (text) => process.stderr.write(text) });
    return;
  }
  let settings = loadSettingsOrExit(env);
  const config = settings.config;
  if (invocation.command === 'healthcheck') {
    const { runHealthcheck } = await import('./cli/healthcheck.js');
    process.exitCode = await runHealthcheck(settings, (text) => process.stderr.write(text));
    return;
  }
  if (invocation.command === 'preview') {
    const { runPreview } = await import('./cli/preview.js');
    process.exitCode = await runPreview(settings, env, { json: invocation.json, profile: invocation.profile }, {
      write: (text) => process.stdout.write(text),
      writeError: (text) => process.stderr.write(text),
      isTTY: process.stdout.isTTY === true,
    });
    return;
  }
  const app = await buildApp({ config, profiles: settings.profiles, logger: loggerOptions(config.logLevel) });
  const log = app.log as unknown as Logger;
  app.log.info(
    {
      upstream: config.upstream.kind === 'unix' ? `unix://${config.upstream.socketPath}` : config.upstream.origin + config.upstream.pathPrefix,
      ...(settings.file === undefined
        ? {
            containerNames: config.containerNames,
            containerLabels: config.containerLabels.map((rule) => (rule.value === undefined ? rule.key : `${rule.key}=${rule.value}`)),
            scrubEnvs: config.scrubEnvs,
          }
        : { configFile: settings.filePath, profiles: [...settings.profiles.profiles.keys()], listeners: settings.listeners.map(describeListener) }),
    },
    'docker-sieve starting',
  );
  if (!youngGenerationBounded()) {
    app.log.warn(
      'started without --max-semi-space-size: memory grows by tens of MB while a large list streams. Start it as `docker-sieve` (the bin), `npm start` or the image, or set NODE_OPTIONS=--max-semi-space-size=2',
    );
  }
  // Without a config file's listeners, the app's own server listens as it always did (PORT, LISTEN_ADDRESS, TLS_*).
  let listeners: RunningListener[] = [];
  if (settings.file?.listeners === undefined) await listen(app, config);
  else {
    await app.ready();
    listeners = await startListeners(app, settings.listeners, app.attachUpgrades, config, log);
  }

  const reload = (reason: string): void => {
    if (settings.filePath === undefined) return;
    let next: Settings;
    try {
      next = loadSettings(withFlags(withDotenv(process.env), invocation.flags));
    } catch (error) {
      const problems = error instanceof ConfigFileError ? error.errors.map((issue) => formatIssue(issue)) : [(error as Error).message];
      for (const problem of problems) log.error({ reason, problem }, 'config reload failed; the old configuration stays in force');
      app.sieve.metrics?.observeReload('invalid');
      return;
    }
    const restart = needsRestart(settings, next);
    if (restart !== undefined) {
      log.warn({ reason }, `config reload refused: ${restart}; the old configuration stays in force`);
      app.sieve.metrics?.observeReload('refused');
      return;
    }
    settings = next;
    const cut = app.swapProfiles(next.profiles);
    log.info({ reason, profiles: [...next.profiles.profiles.keys()], streamsClosed: cut }, 'config reloaded');
    app.sieve.metrics?.observeReload('ok');
  };
  const unwatch = settings.filePath === undefined ? () => undefined : watchConfigFile(settings.filePath, () => reload('file changed'));

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Streams (events, logs -f) never end by themselves: give short requests a grace period, then go.
    const force = setTimeout(() => {
      app.log.warn('grace period over, closing remaining connections');
      app.server.closeAllConnections();
    }, config.timeouts.shutdownGraceMs);
    force.unref();
    app.server.closeIdleConnections();
    unwatch();
    Promise.all(listeners.map((listener) => listener.close(config.timeouts.shutdownGraceMs)))
      .then(() => app.close())
      .then(
      () => process.exit(0),
      (error: Error) => {
        app.log.error({ err: error.message }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    app.reloadTls();
    for (const listener of listeners) listener.reloadTls();
    reload('SIGHUP');
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: Error) => {
  process.stderr.write(`docker-sieve: ${error.message}\n`);
  process.exit(1);
});
