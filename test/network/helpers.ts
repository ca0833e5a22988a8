import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Test } from 'tap';
import { nodeConfigSchema, type NodeConfigInput } from '../../src/config/schema.js';
import type { NodeEventOf, NodeEventType } from '../../src/actors/events.js';
import { startNode, type RunningNode } from '../../src/node/node.js';

/** Starts a regtest peer on 127.0.0.1 with a free port, a temporary data folder, no HTTP API and no mining unless asked; stopped in teardown. */
export async function startPeer(t: Test, opts: { nodeId: string; peers?: number[]; overrides?: Partial<NodeConfigInput> }): Promise<RunningNode> {
  const dir = mkdtempSync(join(tmpdir(), `cheesechain-${opts.nodeId}-`));
  const config = nodeConfigSchema.parse({
    network: 'regtest',
    dataDir: dir,
    nodeId: opts.nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    peers: (opts.peers ?? []).map((p) => `127.0.0.1:${p}`),
    api: { enabled: false },
    mining: { enabled: false, workers: 1 },
    log: { level: 'silent' },
    ...opts.overrides,
  });
  const node = await startNode(config, { logger: pino({ level: process.env.CHEESECHAIN_TEST_LOG ?? 'silent' }).child({ node: opts.nodeId }) });
  t.teardown(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return node;
}

/** Resolves with the first event of `type` on `node` that satisfies `predicate`, or the state check passing first. */
export function until<T extends NodeEventType>(node: RunningNode, type: T, predicate: (e: NodeEventOf<T>) => boolean): Promise<NodeEventOf<T>> {
  return node.bus.once(type, predicate);
}

/** Resolves when the node's tip is `hash` (already, or on a later tip change). */
export async function untilTip(node: RunningNode, hash: string): Promise<void> {
  const waiting = node.bus.once('tip-changed', (e) => e.tip.hash === hash);
  if ((await node.api.info()).tip === hash) return;
  await waiting;
}

/** Resolves when the node has at least `n` connected peers. */
export async function untilPeers(node: RunningNode, n: number): Promise<void> {
  for (;;) {
    const waiting = node.bus.once('peer-connected');
    if ((await node.api.peers()).length >= n) return;
    await waiting;
  }
}

/** Resolves when the transaction is in the node's mempool. */
export async function untilInMempool(node: RunningNode, txid: string): Promise<void> {
  const waiting = node.bus.once('tx-accepted', (e) => e.txid === txid);
  if ((await node.api.transaction(txid))?.status === 'mempool') return;
  await waiting;
}
