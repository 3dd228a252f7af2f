#!/usr/bin/env node
// Process concerns: read the config, build the app, listen, and close gracefully on SIGTERM/SIGINT.
import { buildApp } from './app.js';
import { ConfigError, parseConfig, withDotenv, type Config } from './config.js';

function loadConfigOrExit(): Config {
  try {
    return parseConfig(withDotenv(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`docker-sieve: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
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
  const config = loadConfigOrExit();
  const app = await buildApp({ config });
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
