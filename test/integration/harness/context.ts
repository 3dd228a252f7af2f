/** Values the integration globalSetup hands to the test files via provide()/inject(). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** True when the private dockerd is up and the integration suite should run. */
    integration: boolean;
    /** Path of the private dockerd's API unix socket ('' when integration is false). */
    dockerSock: string;
    /** The same daemon on loopback TCP with --tlsverify, and a client certificate directory (ca/cert/key.pem). */
    dockerTls: { url: string; certDir: string };
    /**
     * Path of the private rootful Podman service's API unix socket (its directory holds containers.conf);
     * '' when Podman cannot run here (the Podman tests skip, or with CI=true the globalSetup fails).
     */
    podmanSock: string;
  }
}

export {};
