// `docker-sieve healthcheck`: for a container HEALTHCHECK, with no curl or wget in the image. Healthy means
// docker-sieve answers on its own port and its upstream answers through it.
import { Agent, request } from 'undici';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';

export function healthcheckUrl(config: Config): string {
  const address = config.listenAddress;
  const host = address === undefined || address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address;
  const literal = host.includes(':') ? `[${host}]` : host;
  // With client certificates required, our own server certificate may not be good as a client's (serverAuth
  // only): the metrics listener, when there is one, answers without TLS.
  if (config.tls?.ca !== undefined && config.metricsPort !== undefined) return `http://${literal}:${config.metricsPort}/healthz`;
  return `${config.tls === undefined ? 'http' : 'https'}://${literal}:${config.port}/_ping`;
}

export async function runHealthcheck(config: Config, writeError: (text: string) => void): Promise<number> {
  const tls = config.tls;
  // We check our own listener: its certificate is ours. With mTLS we present our own certificate as the client's.
  const dispatcher = new Agent({
    connect: {
      rejectUnauthorized: false,
      ...(tls?.ca === undefined ? {} : { cert: readFileSync(tls.cert), key: readFileSync(tls.key) }),
    },
  });
  try {
    const response = await request(healthcheckUrl(config), { method: 'GET', dispatcher, headersTimeout: 3000, bodyTimeout: 3000 });
    await response.body.dump();
    if (response.statusCode === 200) return 0;
    writeError(`docker-sieve healthcheck: /_ping answered ${response.statusCode}\n`);
    return 1;
  } catch (error) {
    writeError(`docker-sieve healthcheck: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await dispatcher.close();
  }
}
