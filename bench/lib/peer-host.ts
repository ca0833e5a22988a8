/**
 * The body of a benchmark peer hosted outside the main thread: starts the
 * peer and answers {@link PeerCommand}s with {@link PeerReport}s over any
 * message channel. Used by `peer-worker.ts` (a worker thread: ten peers of a
 * loopback network share the cores, not one event loop) and
 * `peer-process.ts` (a child process: its resident memory is the peer's own).
 */
import { clock } from './stats.js';
import { startBenchPeer, untilPeers, type BenchPeerOptions } from './peers.js';
import type { PeerCommand, PeerReport } from './worker-peer.js';

/** Starts the peer of `opts`, then serves commands from `onCommand` until `stop`; `close` ends the channel. */
export async function hostPeer(
  opts: BenchPeerOptions,
  post: (r: PeerReport) => void,
  onCommand: (handler: (c: PeerCommand) => void) => void,
  close: () => void,
): Promise<void> {
  const peer = await startBenchPeer(opts);
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
      case 'memory': {
        const m = process.memoryUsage();
        return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
      }
      case 'stop':
        await peer.stop();
        return undefined;
    }
  }

  onCommand((c) => {
    run(c).then(
      (value) => {
        post({ type: 'reply', id: c.id, ok: true, value, at: clock() });
        if (c.cmd === 'stop') close();
      },
      (err: unknown) => post({ type: 'reply', id: c.id, ok: false, error: String((err as Error)?.stack ?? err) }),
    );
  });
  post({ type: 'ready', listenPort: node.listenPort });
}
