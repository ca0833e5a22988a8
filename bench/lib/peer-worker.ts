/**
 * One benchmark peer in its own worker thread, as if it were its own process:
 * its own event loop, heap and module state, so that ten peers of a loopback
 * network use both cores and share no caches. Driven by {@link WorkerPeer}
 * (`worker-peer.ts`) with the messages of `peer-host.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hostPeer } from './peer-host.js';
import type { BenchPeerOptions } from './peers.js';
import type { PeerCommand } from './worker-peer.js';

const port = parentPort!;
await hostPeer(
  workerData as BenchPeerOptions,
  (r) => port.postMessage(r),
  (handler) => port.on('message', (c: PeerCommand) => handler(c)),
  () => port.close(),
);
