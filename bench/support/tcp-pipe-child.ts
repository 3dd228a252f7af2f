// A Node.js TCP pipe for reference rows (see hop-references.ts): every client connection gets a connection of
// its own to the upstream on 127.0.0.1, and bytes flow both ways untouched. argv: upstream port, listen port.
import { connect, createServer } from 'node:net';

const [upstreamPort, port] = process.argv.slice(2).map(Number) as [number, number];
createServer((client) => {
  const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
