/**
 * One benchmark peer in its own worker thread, as if it were its own process:
 * its own event loop, heap and module state, so that ten peers of a loopback
 * network use both cores and share no caches. Driven by {@link WorkerPeer}
 * (`worker-peer.ts`) with the messages below.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { clock } from './stats.js';
import { startBenchPeer, untilPeers, type BenchPeerOptions } from './peers.js';
import type { PeerCommand, PeerReport } from './worker-peer.js';

const port = parentPort!;
const post = (r: PeerReport): void => port.postMessage(r);

const peer = await startBenchPeer(workerData as BenchPeerOptions);
const { node } = peer;
let accepted = 0;
const acceptedWaiters: Array<{ count: number; resolve: (at: number) => void }> = [];
node.bus.on('tx-accepted', () => {
  accepted++;
  for (let i = acceptedWaiters.length - 1; i >= 0; i--) {
    if (accepted >= acceptedWaiters[i]!.count) acceptedWaiters.splice(i, 1)[0]!.resolve(clock());
  }
});
node.bus.on('tip-changed', (e) => post({ type: 'tip', hash: e.tip.hash, height: e.tip.height, at: clock() }));
node.done.catch((err: unknown) => post({ type: 'failed', error: String((err as Error)?.stack ?? err) }));

async function run(c: PeerCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'connect':
      node.connect('127.0.0.1', c.port);
      return undefined;
    case 'submit-block': {
      const startedAt = clock();
      return { result: await node.api.submitBlock(c.block), startedAt };
    }
    case 'until-peers':
      await untilPeers(node, c.n);
      return undefined;
    case 'until-accepted':
      return accepted >= c.count ? clock() : new Promise<number>((resolve) => acceptedWaiters.push({ count: c.count, resolve }));
    case 'info':
      return node.api.info();
    case 'peers':
      return (await node.api.peers()).map((p) => p.nodeId);
    case 'stop':
      await peer.stop();
      return undefined;
  }
}

port.on('message', (c: PeerCommand) => {
  run(c).then(
    (value) => {
      post({ type: 'reply', id: c.id, ok: true, value, at: clock() });
      if (c.cmd === 'stop') port.close();
    },
    (err: unknown) => post({ type: 'reply', id: c.id, ok: false, error: String((err as Error)?.stack ?? err) }),
  );
});
post({ type: 'ready', listenPort: node.listenPort });
