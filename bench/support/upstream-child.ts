// Entry point of the static upstream as a child process (see upstream-process.ts). Options come as JSON in
// argv[2]; requests come over IPC.
import { startStaticUpstream, type StaticUpstreamOptions } from './static-upstream.js';

interface Message {
  id: number;
  op: 'counts' | 'events' | 'lastListEndAt' | 'stop';
  rate?: number;
  seconds?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as StaticUpstreamOptions;
const upstream = await startStaticUpstream(options);
const send = (message: unknown) => process.send!(message);
send({ ready: true, url: upstream.url, listBytes: upstream.listBody.length });

process.on('message', (message: Message) => {
  void (async () => {
    switch (message.op) {
      case 'counts':
        send({ id: message.id, value: Object.fromEntries(upstream.counts) });
        break;
      case 'lastListEndAt':
        send({ id: message.id, value: upstream.lastListEndAt });
        break;
      case 'events':
        send({ id: message.id, value: await upstream.broadcastEvents(message.rate!, message.seconds!) });
        break;
      case 'stop':
        await upstream.close();
        send({ id: message.id, value: true });
        process.disconnect();
        break;
    }
  })();
});
// The parent went away: go too.
process.on('disconnect', () => process.exit(0));
