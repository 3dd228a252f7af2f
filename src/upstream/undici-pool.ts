// undici's Pool from its own modules (see upstream.ts for why not from the index), with the request API on it
// as undici's index puts it there: `Object.assign(Dispatcher.prototype, api)`. Doing it again, when something
// else loads the index, assigns the same functions.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
