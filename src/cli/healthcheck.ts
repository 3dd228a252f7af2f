// `docker-sieve healthcheck`: for a container HEALTHCHECK, with no curl or wget in the image. Healthy means
// docker-sieve answers on its own port and its upstream answers through it.
//
// With a config file the healthcheck reads the same file, and checks a listener it may use:
//   1. METRICS_PORT set: its /healthz (no TLS, no identity).
//   2. Otherwise the first listener (file order, unix socket or TCP) on which the file's identity would give the
//      healthcheck a profile: a listener with a `profile` always does (it decides alone); one without does when a
//      `from` client matches the loopback address, a certificate client matches the listener's own certificate
//      (presented on an mTLS listener), or the default is a profile. /_ping through it must answer 200.
//   3. None: fail, and say to set METRICS_PORT or give a listener a profile.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { Config, TlsFiles } from '../config.js';
import type { ListenerSpec } from '../config/file.js';
import type { Settings } from '../config/load.js';
import { describeListener } from '../edge/listeners.js';
import { certificateFacts, type IdentityFacts, type PeerCertificateFacts } from '../edge/identity.js';

/** Where to connect to listen on `address`: loopback for every interface. */
function loopbackFor(address: string | undefined): string {
  return address === undefined || address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function healthcheckUrl(config: Config): string {
  const literal = urlHost(loopbackFor(config.listenAddress));
  // With client certificates required, our own server certificate may not be good as a client's (serverAuth
  // only): the metrics listener, when there is one, answers without TLS.
  if (config.tls?.ca !== undefined && config.metricsPort !== undefined) return `http://${literal}:${config.metricsPort}/healthz`;
  return `${config.tls === undefined ? 'http' : 'https'}://${literal}:${config.port}/_ping`;
}

/** What the healthcheck asks, or why it cannot ask anything. */
export type HealthcheckPlan =
  | {
      readonly kind: 'check';
      readonly url: string;
      /** Set: connect to this unix socket (the URL's host is then only a Host header). */
      readonly socketPath?: string;
      /** Set: present this certificate and key (our own, on an mTLS listener). */
      readonly clientCertificate?: TlsFiles;
      /** What is checked, for messages: `/_ping on tcp://*:2375`. */
      readonly what: string;
    }
  | { readonly kind: 'refused'; readonly message: string };

/** The facts of the listener's own certificate, as the listener would see it presented. undefined if unreadable. */
function ownCertificateFacts(path: string, readFile: (path: string) => Buffer): PeerCertificateFacts | undefined {
  try {
    const certificate = new X509Certificate(readFile(path));
    const cns = certificate.subject
      .split('\n')
      .filter((line) => line.startsWith('CN='))
      .map((line) => line.slice(3));
    return certificateFacts({
      subject: cns.length === 0 ? {} : { CN: cns.length === 1 ? cns[0]! : cns },
      subjectaltname: certificate.subjectAltName ?? '',
      fingerprint256: certificate.fingerprint256,
    });
  } catch {
    return undefined;
  }
}

/** The request the healthcheck would make on this listener, and the facts the edge would judge it by. */
function listenerCheck(spec: ListenerSpec, readFile: (path: string) => Buffer): { plan: HealthcheckPlan & { kind: 'check' }; facts: IdentityFacts } {
  const what = `/_ping on ${describeListener(spec)}`;
  if (spec.kind === 'unix') {
    return { plan: { kind: 'check', url: 'http://localhost/_ping', socketPath: spec.socket, what }, facts: { listenerProfile: spec.profile } };
  }
  const host = loopbackFor(spec.address);
  const mutual = spec.tls?.ca !== undefined ? spec.tls : undefined;
  const peerCertificate = mutual === undefined || spec.profile !== undefined ? undefined : ownCertificateFacts(mutual.cert, readFile);
  return {
    plan: {
      kind: 'check',
      url: `${spec.tls === undefined ? 'http' : 'https'}://${urlHost(host)}:${spec.port}/_ping`,
      ...(mutual === undefined ? {} : { clientCertificate: mutual }),
      what,
    },
    facts: { listenerProfile: spec.profile, remoteAddress: host, ...(peerCertificate === undefined ? {} : { peerCertificate }) },
  };
}

/** What to check. Pure but for reading the listener's own certificate on an mTLS listener (to judge its identity). */
export function healthcheckPlan(
  settings: Pick<Settings, 'config' | 'file' | 'listeners' | 'profiles'>,
  readFile: (path: string) => Buffer = (path) => readFileSync(path),
): HealthcheckPlan {
  const config = settings.config;
  if (settings.file === undefined) {
    // As it always was: the one listener of PORT, LISTEN_ADDRESS and TLS_*, where every client gets `default`.
    return {
      kind: 'check',
      url: healthcheckUrl(config),
      ...(config.tls?.ca === undefined ? {} : { clientCertificate: config.tls }),
      what: config.tls?.ca !== undefined && config.metricsPort !== undefined ? '/healthz on METRICS_PORT' : '/_ping',
    };
  }
  if (config.metricsPort !== undefined) {
    // The metrics listener listens where LISTEN_ADDRESS says (every interface without it).
    return { kind: 'check', url: `http://${urlHost(loopbackFor(config.listenAddress))}:${config.metricsPort}/healthz`, what: '/healthz on METRICS_PORT' };
  }
  const outcomes: string[] = [];
  for (const spec of settings.listeners) {
    const { plan, facts } = listenerCheck(spec, readFile);
    const identity = settings.profiles.identify(facts);
    if (identity.kind === 'profile') return plan;
    outcomes.push(`${describeListener(spec)} would ${identity.kind === 'deny' ? 'deny it (default: deny)' : 'answer 401'}`);
  }
  return {
    kind: 'refused',
    message:
      `no listener would let the healthcheck through (${outcomes.join('; ')}): ` +
      'set METRICS_PORT (the healthcheck then asks its /healthz) or give a listener a `profile` in the config file',
  };
}

export async function runHealthcheck(settings: Pick<Settings, 'config' | 'file' | 'listeners' | 'profiles'>, writeError: (text: string) => void): Promise<number> {
  const plan = healthcheckPlan(settings);
  if (plan.kind === 'refused') {
    writeError(`docker-sieve healthcheck: ${plan.message}\n`);
    return 1;
  }
  let dispatcher: Agent;
  try {
    // We check our own listener: its certificate is ours. With mTLS we present our own certificate as the client's.
    const own = plan.clientCertificate;
    dispatcher = new Agent({
      connect: {
        rejectUnauthorized: false,
        ...(plan.socketPath === undefined ? {} : { socketPath: plan.socketPath }),
        ...(own === undefined ? {} : { cert: readFileSync(own.cert), key: readFileSync(own.key) }),
      },
    });
  } catch (error) {
    writeError(`docker-sieve healthcheck: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    const response = await request(plan.url, { method: 'GET', dispatcher, headersTimeout: 3000, bodyTimeout: 3000 });
    await response.body.dump();
    if (response.statusCode === 200) return 0;
    writeError(`docker-sieve healthcheck: ${plan.what} answered ${response.statusCode}\n`);
    return 1;
  } catch (error) {
    writeError(`docker-sieve healthcheck: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await dispatcher.close();
  }
}
