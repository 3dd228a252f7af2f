// TLS for the listener: TLS_CERT + TLS_KEY serve HTTPS; TLS_CA also requires and verifies client certificates,
// as dockerd's --tlsverify does. Certificates are read again on SIGHUP or when a file changes, without a restart.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsFiles } from '../config.js';

export function readTlsMaterial(files: TlsFiles): SecureContextOptions {
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(files.ca === undefined ? {} : { ca: readFileSync(files.ca) }),
  };
}

export function httpsServerOptions(files: TlsFiles): ServerOptions {
  const mutual = files.ca !== undefined;
  return { ...readTlsMaterial(files), requestCert: mutual, rejectUnauthorized: mutual, minVersion: 'TLSv1.2' };
}

export interface TlsReloader {
  reload(reason: string): void;
  close(): void;
}

export function watchTlsFiles(server: HttpsServer, files: TlsFiles, log: Logger, intervalMs = 1000): TlsReloader {
  const paths = [files.cert, files.key, ...(files.ca === undefined ? [] : [files.ca])];
  const reload = (reason: string): void => {
    try {
      server.setSecureContext(readTlsMaterial(files));
      log.info({ reason }, 'TLS certificates reloaded');
    } catch (error) {
      // Keep serving with the certificates we have: a half-written file must not take the listener down.
      log.error({ reason, err: (error as Error).message }, 'TLS certificates could not be reloaded; keeping the old ones');
    }
  };
  const onChange = (): void => reload('file changed');
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, onChange);
  return {
    reload,
    close() {
      for (const path of paths) unwatchFile(path, onChange);
    },
  };
}
