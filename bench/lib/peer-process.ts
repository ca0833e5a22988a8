/**
 * One benchmark peer in a child process (forked with IPC and `advanced`
 * serialization by {@link WorkerPeer.startProcess}), so that the resident
 * memory of the process is the peer's alone: the memory benchmark reads it.
 * The options arrive as the first IPC message.
 */
import { hostPeer } from './peer-host.js';
import type { BenchPeerOptions } from './peers.js';
import type { PeerCommand, PeerReport } from './worker-peer.js';

const send = (r: PeerReport): void => void process.send!(r);
// The benchmark that forked this peer is gone (finished or crashed): leave with it.
process.once('disconnect', () => process.exit(0));
const opts = await new Promise<BenchPeerOptions>((resolve) => process.once('message', (m) => resolve(m as BenchPeerOptions)));
await hostPeer(
  opts,
  send,
  (handler) => process.on('message', (c) => handler(c as PeerCommand)),
  () => process.disconnect(),
);
