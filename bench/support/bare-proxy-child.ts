// A minimal Node.js reverse proxy: node:http in, undici out, no framework, no logging, no checks. It is not
// docker-sieve: it is the floor any Node.js proxy stands on, measured on the same machine in the same run, so
// that docker-sieve's own cost can be told apart from the cost of one more Node.js hop.
// argv: upstream URL, port, and `plain` or `filter` (run the list answer through docker-sieve's list filter).
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { filterContainerList } from '../../src/filters/containers-list.js';
import { compilePolicy } from '../../src/policy/policy.js';

const [upstreamUrl, port, mode] = process.argv.slice(2) as [string, string, 'plain' | 'filter'];
const policy = compilePolicy({ names: ['web'], labels: [] });
const upstream = new Pool(upstreamUrl, { connections: 64 });
const server = createServer((req, res) => {
  req.resume();
  upstream.request({ method: req.method as 'GET', path: req.url ?? '/' }).then(
    (answer) => {
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      delete headers.connection;
      delete headers['keep-alive'];
      if (mode === 'filter' && /\/containers\/json/.test(req.url ?? '')) {
        delete headers['content-length'];
        res.writeHead(answer.statusCode, headers);
        answer.body.pipe(filterContainerList(policy, undefined, { kept: 0, seen: 0 })).pipe(res);
      } else {
        res.writeHead(answer.statusCode, headers);
        answer.body.pipe(res);
      }
    },
    () => {
      res.writeHead(502);
      res.end();
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
process.on('disconnect', () => process.exit(0));
