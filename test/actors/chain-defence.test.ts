/**
 * The chain against a hostile miner: side-branch spam, orphan floods,
 * invalid blocks sent again, a failed reorg across a restart, checkpoints
 * and the minimum chain work. Real chain actor, real stores (LMDB for the
 * restart).
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainActor, type ChainMsg } from '../../src/actors/chain.js';
import { OrphanPool } from '../../src/actors/orphan-pool.js';
import { request } from '../../src/actors/runtime/actor.js';
import { Supervisor } from '../../src/actors/runtime/supervisor.js';
import { EventBus, type NodeEvent } from '../../src/actors/events.js';
import type { Block } from '../../src/core/block.js';
import { blockSize } from '../../src/core/block.js';
import type { NetworkParams } from '../../src/core/params.js';
import { isPolicyOnly } from '../../src/core/reject.js';
import type { BlockStore } from '../../src/store/block-store.js';
import { LmdbBlockStore } from '../../src/store/lmdb-store.js';
import { MemoryBlockStore } from '../../src/store/memory-store.js';
import { ChainBuilder, fastKey, mineBlock, regtest, regtestId, storeIdentity } from '../helpers/chain-builder.js';

async function chainOn(_t: Test, store: BlockStore, params: NetworkParams = regtest) {
  const bus = new EventBus((err) => {
    throw err;
  });
  const events: NodeEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const sup = new Supervisor({ name: 'test' });
  const chain = await sup.startChild<ChainMsg>({ id: 'chain', start: () => new ChainActor({ params, networkId: regtestId, store, bus }) });
  const submit = (block: Block, requested = false, source = 'peer-x') => request(chain, 'chain/submit-block', { block, requested, source });
  return { sup, chain, events, submit, stop: () => sup.stop() };
}

async function memoryStore(params: NetworkParams = regtest): Promise<MemoryBlockStore> {
  const store = new MemoryBlockStore();
  await store.open(storeIdentity(params));
  return store;
}

t.test('side-branch spam below the tip\'s work is refused as policy and not stored; a requested one is stored', async (t) => {
  const store = await memoryStore();
  const c = await chainOn(t, store);
  t.teardown(c.stop);
  const main = new ChainBuilder(regtest);
  for (const b of main.extend(4)) t.equal((await c.submit(b.block, true)).status, 'connected');
  // Forks off genesis at genesis difficulty, each full of transfers nobody funded.
  const spam = main.fork(0);
  const fork = spam.extend(2);
  const r = await c.submit(fork[0]!.block);
  t.match(r, { status: 'invalid', code: 'too-little-chainwork' });
  t.equal(store.getEntry(fork[0]!.entry.hash), undefined, 'not written to the store');
  if (r.status === 'invalid') t.equal(isPolicyOnly(r.code, 'block'), true, 'never punished: the sender may just be behind');
  t.match(await c.submit(fork[0]!.block, true), { status: 'side-branch' }, 'part of a sync the node asked for: stored');
  t.ok(store.getEntry(fork[0]!.entry.hash));
});

t.test('a minimum chain work refuses unrequested side branches below it, even with the tip\'s work', async (t) => {
  const params: NetworkParams = { ...regtest, minimumChainWork: 1n << 40n };
  const store = await memoryStore(params);
  const c = await chainOn(t, store, params);
  t.teardown(c.stop);
  const main = new ChainBuilder(params);
  await c.submit(main.next().block, true);
  const rival = main.fork(0).next();
  t.match(await c.submit(rival.block), { status: 'invalid', code: 'too-little-chainwork', reason: /minimum/ });
});

t.test('a checkpoint refuses another block at its height', async (t) => {
  const honest = new ChainBuilder(regtest);
  const one = honest.next();
  const params: NetworkParams = { ...regtest, checkpoints: new Map([[1, one.entry.hash]]) };
  const store = await memoryStore(params);
  const c = await chainOn(t, store, params);
  t.teardown(c.stop);
  const other = new ChainBuilder(params).next();
  t.match(await c.submit(other.block, true), { status: 'invalid', code: 'checkpoint' });
  t.match(await c.submit(one.block, true), { status: 'connected' });
});

t.test('an invalid block sent again is refused cheaply as duplicate-invalid, which punishes', async (t) => {
  const store = await memoryStore();
  const c = await chainOn(t, store);
  t.teardown(c.stop);
  const b = new ChainBuilder(regtest);
  await c.submit(b.next().block, true);
  // Valid structure, but the transfer spends what the sender does not have: fails only when connected.
  const overspend = mineBlock({ params: regtest, prev: b.tip, txs: [b.pay(fastKey(), fastKey(), 1_000n, 200n)], minerKey: b.miner.publicKey, time: b.tip.header.time + 1 });
  const first = await c.submit(overspend);
  t.match(first, { status: 'invalid', code: 'insufficient-balance' });
  if (first.status === 'invalid') t.equal(isPolicyOnly(first.code, 'block'), false, 'a state failure inside a block punishes');
  t.equal(store.getInvalid(first.hash), 'insufficient-balance', 'the failure is in the store');
  const again = await c.submit(overspend);
  t.match(again, { status: 'invalid', code: 'duplicate-invalid' });
  if (again.status === 'invalid') t.equal(isPolicyOnly(again.code, 'block'), false, 'sending it again punishes');
  // A malleable failure (merkle root) is refused but never recorded: the real block may share the hash.
  const good = b.next().block;
  const mangled: Block = { header: good.header, txs: [...good.txs, good.txs[0]!] };
  t.match(await c.submit(mangled), { status: 'invalid' });
  t.equal(store.getInvalid(b.tip.hash), undefined, 'not recorded');
  t.match(await c.submit(good), { status: 'connected' }, 'the real block still connects');
});

t.test('a failed reorg is not replayed after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-chain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const open = async () => {
    const store = new LmdbBlockStore({ path: join(dir, 'chain') });
    await store.open(storeIdentity(regtest));
    return store;
  };
  const a = new ChainBuilder(regtest);
  a.extend(2);
  const fork = a.fork(1);
  fork.next();
  const bad = mineBlock({ params: regtest, prev: fork.tip, txs: [fork.pay(fastKey(), fastKey(), 1_000n, 200n)], minerKey: fork.miner.publicKey, time: fork.tip.header.time + 1 });
  let store = await open();
  let c = await chainOn(t, store);
  for (const b of a.built) await c.submit(b.block, true);
  t.equal((await c.submit(fork.blocks[2]!.block, true)).status, 'side-branch');
  t.match(await c.submit(bad, true), { status: 'invalid', code: 'insufficient-balance' });
  t.equal(store.getTip().hash, a.tip.hash, 'back on the valid chain');
  await c.stop();
  await store.close();

  store = await open();
  c = await chainOn(t, store);
  t.teardown(async () => {
    await c.stop();
    await store.close();
  });
  t.equal(c.events.filter((e) => e.type === 'block-disconnected').length, 0, 'the restart did not disconnect the main chain to try the bad branch again');
  t.equal(store.getTip().hash, a.tip.hash);
  t.match(await c.submit(bad, true), { status: 'invalid', code: 'duplicate-invalid' }, 'still known invalid after the restart');
});

t.test('the orphan pool is bounded in bytes; a flooding peer evicts its own orphans, not another peer\'s', async (t) => {
  const b = new ChainBuilder(regtest);
  const blocks = b.extend(30).map((x) => x.block);
  const size = blockSize(blocks[0]!);
  const pool = new OrphanPool({ maxBytes: size * 10, maxBytesPerPeer: size * 4, maxBlocks: 100 });
  const orphan = (i: number, source: string) => ({ hash: `h${i}`, prevHash: `p${i}`, block: blocks[i]!, size, source, requested: false });
  for (let i = 0; i < 3; i++) t.match(pool.add(orphan(i, 'honest')), { added: true });
  for (let i = 3; i < 30; i++) pool.add(orphan(i, 'flooder'));
  t.equal(pool.bytesFrom('flooder'), size * 4, 'the flooder holds its share and no more');
  t.equal(pool.bytesFrom('honest'), size * 3, 'the honest peer\'s orphans are all there');
  t.ok(pool.bytes <= size * 10, `${pool.bytes} bytes ≤ the bound`);
  for (let i = 0; i < 3; i++) t.ok(pool.has(`h${i}`));
  t.same(pool.takeChildrenOf('p1').map((o) => o.hash), ['h1'], 'an orphan comes out when its parent arrives');
  t.match(pool.add({ ...orphan(0, 'x'), hash: 'big', size: size * 5 }), { added: false }, 'a block over a peer\'s share is refused');
});

t.test('the chain actor keeps at most its byte bound of orphans and answers orphan-pool-full as policy', async (t) => {
  const store = await memoryStore();
  const bus = new EventBus();
  const sup = new Supervisor({ name: 'test' });
  t.teardown(() => sup.stop());
  const b = new ChainBuilder(regtest);
  const blocks = b.extend(6).map((x) => x.block);
  const size = blockSize(blocks[1]!);
  const chain = await sup.startChild<ChainMsg>({ id: 'chain', start: () => new ChainActor({ params: regtest, networkId: regtestId, store, bus, orphans: { maxBytes: size * 2, maxBytesPerPeer: size * 2 } }) });
  for (const blk of blocks.slice(1)) t.match(await request(chain, 'chain/submit-block', { block: blk, source: 'p' }), { status: 'orphan' });
  // Only the last two orphans survive; the parent connects, its orphan child does not exist any more.
  t.match(await request(chain, 'chain/submit-block', { block: blocks[0]!, source: 'p' }), { status: 'connected' });
  t.equal(store.getTip().height, 1, 'the evicted orphans were not kept');
  t.equal(isPolicyOnly('orphan-pool-full', 'block'), true);
});
