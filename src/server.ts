#!/usr/bin/env node
// Process concerns: the command line, the config, building the app, listening, and closing gracefully on
// SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { buildApp } from './app.js';
import { ConfigError, parseConfig, withDotenv, type Config, type Env } from './config.js';
import { parseInvocation, usage, UsageError, withFlags, type Invocation } from './cli/args.js';
import { runHealthcheck } from './cli/healthcheck.js';
import { runPreview } from './cli/preview.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function fail(message: string): never {
  process.stderr.write(`docker-sieve: ${message}\n`);
  process.exit(1);
}

function loadConfigOrExit(env: Env): Config {
  try {
    return parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`);
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
  let fileEnv: Env;
  try {
    fileEnv = withDotenv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`);
    throw error;
  }
  const env = withFlags(fileEnv, invocation.flags);
  const config = loadConfigOrExit(env);
  if (invocation.command === 'healthcheck') {
    process.exitCode = await runHealthcheck(config, (text) => process.stderr.write(text));
    return;
  }
  if (invocation.command === 'preview') {
    process.exitCode = await runPreview(config, env, invocation.json, {
      write: (text) => process.stdout.write(text),
      writeError: (text) => process.stderr.write(text),
      isTTY: process.stdout.isTTY === true,
    });
    return;
  }
  const app = await buildApp({ config, logger: loggerOptions(config.logLevel) });
  app.log.info(
    {
      upstream: config.upstream.kind === 'unix' ? `unix://${config.upstream.socketPath}` : config.upstream.origin + config.upstream.pathPrefix,
      containerNames: config.containerNames,
      containerLabels: config.containerLabels.map((rule) => (rule.value === undefined ? rule.key : `${rule.key}=${rule.value}`)),
      scrubEnvs: config.scrubEnvs,
    },
    'docker-sieve starting',
  );
  await listen(app, config);

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
    app.close().then(
      () => process.exit(0),
      (error: Error) => {
        app.log.error({ err: error.message }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => app.reloadTls());
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: Error) => {
  process.stderr.write(`docker-sieve: ${error.message}\n`);
  process.exit(1);
});
