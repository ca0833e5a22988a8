import t from 'tap';
import { ChainActor, type ChainMsg, type SubmitBlockResult } from '../../src/actors/chain.js';
import { MempoolActor, NextBlockState, type AddTxResult, type MempoolMsg } from '../../src/actors/mempool.js';
import type { ActorRef } from '../../src/actors/runtime/actor.js';
import { Supervisor } from '../../src/actors/runtime/supervisor.js';
import type { Block } from '../../src/core/block.js';
import { txid } from '../../src/core/transaction.js';
import { EventBus, type NodeEvent } from '../../src/actors/events.js';
import { MemoryBlockStore } from '../../src/store/memory-store.js';
import { ChainBuilder, keyHex, newKey, regtest, regrind, regtestId, storeIdentity, transfer } from '../helpers/chain-builder.js';
import { request } from '../../src/actors/runtime/actor.js';
import { VerifyPool, type SignatureVerifier } from '../../src/workers/verify-pool.js';

async function peer(t: Tap.Test, verifier?: SignatureVerifier) {
  const store = new MemoryBlockStore();
  await store.open(storeIdentity(regtest));
  const bus = new EventBus((err) => {
    throw err;
  });
  const events: NodeEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const sup = new Supervisor({ name: 'test' });
  t.teardown(() => sup.stop());
  const chain = await sup.startChild<ChainMsg>({ id: 'chain', start: () => new ChainActor({ params: regtest, networkId: regtestId, store, bus, verifier }) });
  const mempool = await sup.startChild<MempoolMsg>({ id: 'mempool', start: () => new MempoolActor({ networkId: regtestId, state: new NextBlockState(store, regtest), bus, maxTransactions: 4 }) });
  bus.on('block-connected', (e) => mempool.tell({ type: 'mempool/block-connected', block: e.block }));
  bus.on('block-disconnected', (e) => mempool.tell({ type: 'mempool/block-disconnected', block: e.block }));
  /** Submits as a sync would (requested), so that side branches are stored whatever their work. */
  const submit = (block: Block, requested = true) => request(chain, 'chain/submit-block', { block, requested });
  const addTx = (tx: Parameters<typeof txid>[0]) =>
    request(mempool, 'mempool/add', { tx: tx as never });
  const poolIds = async () => (await request(mempool, 'mempool/template', { maxTxs: 1000, maxBytes: 1e6 })).map(txid);
  return { store, bus, events, chain, mempool, submit, addTx, poolIds };
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Tap {
    type Test = import('tap').Test;
  }
}

t.test('connects a chain block by block and reports each block and tip', async (t) => {
  const p = await peer(t);
  const b = new ChainBuilder(regtest);
  for (const built of b.extend(5)) {
    const r = await p.submit(built.block);
    t.equal(r.status, 'connected');
  }
  t.equal(p.store.getTip().height, 5);
  t.equal(p.store.getTip().hash, b.tip.hash);
  t.equal(p.events.filter((e) => e.type === 'block-connected').length, 5);
  t.equal((await p.submit(b.blocks[3]!.block)).status, 'duplicate', 'a known block is a duplicate');
});

t.test('an invalid block is rejected with its reason and the chain actor keeps working', async (t) => {
  const p = await peer(t);
  const b = new ChainBuilder(regtest);
  const [good] = b.extend(1);
  const bad: Block = { header: regrind({ ...good!.block.header, merkleRoot: new Uint8Array(32) }, regtest), txs: good!.block.txs };
  const r = await p.submit(bad);
  t.equal(r.status, 'invalid');
  t.match(r, { code: 'bad-merkle-root' });
  t.equal((await p.submit(good!.block)).status, 'connected', 'the valid block still connects');
  const alice = newKey();
  const overspend = b.pay(b.miner, alice, 10n ** 15n);
  // A block whose transfer overspends fails when connected.
  const { mineBlock } = await import('../helpers/chain-builder.js');
  const overspendBlock = mineBlock({ params: regtest, prev: b.tip, txs: [overspend], minerKey: b.miner.publicKey, time: b.tip.header.time + 1 });
  const r2 = await p.submit(overspendBlock);
  t.match(r2, { status: 'invalid', code: 'insufficient-balance' });
});

t.test('a block whose parent is unknown waits as an orphan and connects when the parent arrives', async (t) => {
  const p = await peer(t);
  const b = new ChainBuilder(regtest);
  const [one, two, three] = b.extend(3);
  t.match(await p.submit(three!.block), { status: 'orphan', missing: two!.entry.hash });
  t.match(await p.submit(two!.block), { status: 'orphan', missing: one!.entry.hash });
  t.match(await p.submit(one!.block), { status: 'connected' });
  t.equal(p.store.getTip().height, 3, 'the orphans connected after their parent');
});

t.test('a heavier side branch reorganises the chain and the abandoned transfers return to the mempool', async (t) => {
  const p = await peer(t);
  const a = new ChainBuilder(regtest);
  const alice = newKey();
  a.extend(2);
  const fork = a.fork(2);
  const pay = a.pay(a.miner, alice, 5_000n, 200n);
  a.next([pay]);
  a.next();
  for (const built of a.built) t.equal((await p.submit(built.block)).status, 'connected');
  t.equal(p.store.getAccount(keyHex(alice))?.balance, 5_000n, 'alice was paid on the first branch');

  const side = fork.extend(3);
  t.equal((await p.submit(side[0]!.block)).status, 'side-branch');
  t.equal((await p.submit(side[1]!.block)).status, 'side-branch', 'equal work does not reorganise');
  const r = await p.submit(side[2]!.block);
  t.match(r, { status: 'reorg', height: 5, depth: 2 });
  t.equal(p.store.getTip().hash, fork.tip.hash);
  t.equal(p.store.getAccount(keyHex(alice)), undefined, 'alice has nothing on the heavier branch');
  t.equal(p.events.filter((e) => e.type === 'block-disconnected').length, 2);
  t.same(await p.poolIds(), [txid(pay)], 'the transfer of the abandoned block is back in the mempool');
});

t.test('a reorg onto a branch with a block that fails to connect falls back to the best valid chain', async (t) => {
  const p = await peer(t);
  const a = new ChainBuilder(regtest);
  a.extend(2);
  for (const built of a.built) await p.submit(built.block);
  const fork = a.fork(1);
  fork.next();
  const { mineBlock } = await import('../helpers/chain-builder.js');
  // Valid proof of work and structure, but its transfer spends from an empty account: fails only when connected.
  const bad = mineBlock({ params: regtest, prev: fork.tip, txs: [fork.pay(newKey(), newKey(), 1n)], minerKey: fork.miner.publicKey, time: fork.tip.header.time + 1 });
  t.equal((await p.submit(fork.blocks[2]!.block)).status, 'side-branch');
  const r = await p.submit(bad);
  t.match(r, { status: 'invalid', code: 'insufficient-balance' }, 'the block is refused with the failure of its own connect, not a generic code');
  t.equal(p.store.getTip().hash, a.tip.hash, 'the tip is back on the valid chain');
  t.equal(p.store.getTip().height, 2);
  t.match(await p.submit(bad), { status: 'invalid', code: 'duplicate-invalid' }, 'sent again, it is refused from the index as known-invalid');
});

t.test('mempool: admission, typed rejections, nonce order, confirmation, eviction by fee, template order', async (t) => {
  const p = await peer(t);
  const b = new ChainBuilder(regtest);
  await p.submit(b.next().block);
  const miner = b.miner;
  const alice = newKey();
  const bob = newKey();
  const t0 = transfer(regtest, miner, alice, 1_000n, 0, 205n);
  const t1 = transfer(regtest, miner, alice, 1_000n, 1, 206n);
  t.match(await p.addTx(t1), { accepted: false, code: 'nonce-gap' });
  t.match(await p.addTx(t0), { accepted: true, txid: txid(t0) });
  t.match(await p.addTx(t0), { accepted: false, code: 'already-known' });
  t.match(await p.addTx(t1), { accepted: true });
  t.match(await p.addTx({ ...transfer(regtest, miner, alice, 1_000n, 2, 201n), amount: 2_000n }), { accepted: false, code: 'bad-signature' });
  t.match(await p.addTx(transfer(regtest, bob, alice, 1_000n, 0, 200n)), { accepted: false, code: 'insufficient-balance' });

  await p.submit(b.next([t0]).block);
  t.same(await p.poolIds(), [txid(t1)], 'the confirmed transfer left the mempool, the next one stays');
  t.match(await p.addTx(t0), { accepted: false, code: 'bad-nonce' }, 'a confirmed nonce is refused');

  const [t2, t3, t4] = [2, 3, 4].map((n) => transfer(regtest, miner, bob, 1_000n, n, 201n));
  for (const tx of [t2!, t3!, t4!]) t.match(await p.addTx(tx), { accepted: true });
  t.match(await p.addTx(transfer(regtest, alice, bob, 500n, 0, 153n)), { accepted: false, code: 'mempool-full' }, 'full: a lower fee is refused');
  const a0 = transfer(regtest, alice, bob, 500n, 0, 300n);
  t.match(await p.addTx(a0), { accepted: true }, 'full: a higher fee evicts the cheapest end of a sender chain');
  t.ok(p.events.some((e) => e.type === 'tx-evicted' && e.txid === txid(t4!) && e.reason === 'mempool-full'), 'the evicted transfer is reported');
  t.same(await p.poolIds(), [a0, t1, t2!, t3!].map(txid), 'the template takes the best fee first and keeps each sender in nonce order');
});

t.test('a reorg that takes away a miner\'s coinbase evicts the miner\'s pending spends', async (t) => {
  const p = await peer(t);
  const a = new ChainBuilder(regtest);
  const fork = a.fork(0);
  await p.submit(a.next().block);
  const spend = transfer(regtest, a.miner, newKey(), 1_000n, 0, 200n);
  t.match(await p.addTx(spend), { accepted: true });
  fork.extend(2);
  for (const built of fork.built) await p.submit(built.block);
  t.equal(p.store.getTip().hash, fork.tip.hash, 'the heavier branch won');
  t.same(await p.poolIds(), [], 'the spend of the vanished coinbase left the mempool');
  t.ok(p.events.some((e) => e.type === 'tx-evicted' && e.txid === txid(spend) && e.reason === 'invalid-after-reorg'), 'its eviction is reported');
});

t.test('a run of blocks connects in one batch under the single-block rules: a bad signature ends it, is recorded invalid, and its descendants are refused', async (t) => {
  const verifier = new VerifyPool({ networkId: regtestId, threads: 2 });
  t.teardown(() => verifier.close());
  const { store, events, chain } = await peer(t, verifier);

  const b = new ChainBuilder(regtest);
  const alice = newKey();
  b.next();
  // Block 2 spends the coinbase of block 1, which matures in block 2 itself (regtest maturity 1), inside the run;
  // enough transfers for the worker pool to check them.
  b.next(Array.from({ length: 20 }, () => b.pay(b.miner, alice, 1_000n, 10n)));
  b.next([b.pay(b.miner, alice, 7n, 1n)]);
  const good = b.blocks.slice(1).map((x) => x.block);
  const signed = b.pay(b.miner, alice, 5n, 1n);
  // The amount is edited after signing: the block still balances, the signature no longer verifies.
  const forged = b.next([{ ...signed, amount: 6n }]).block;
  const after = b.extend(2).map((x) => x.block);

  const results = await request(chain, 'chain/submit-blocks', { blocks: [...good, forged, ...after].map((block) => ({ block, requested: true })) });
  t.same(
    results.map((r) => r.status),
    ['connected', 'connected', 'connected', 'invalid', 'invalid', 'invalid'],
  );
  t.match(results[3], { status: 'invalid', code: 'bad-signature' });
  t.match(results[4], { status: 'invalid', code: 'bad-prev' });
  t.equal(store.getTip().height, 3, 'the blocks before the failure are connected');
  t.equal(store.getAccount(keyHex(alice))?.balance, 20_007n, 'with their transfers, the coinbase that matured inside the run included');
  const forgedHash = results[3]!.hash;
  t.ok([...store.invalidBlocks()].some((x) => x.hash === forgedHash && x.code === 'bad-signature'), 'the failure is recorded in the store');
  t.match(await request(chain, 'chain/submit-block', { block: forged }), { status: 'invalid', code: 'duplicate-invalid' }, 'and refused cheaply from then on');
  t.equal(events.filter((e) => e.type === 'tip-changed').length, 1, 'one tip change for the run');
});

t.test('after a reorg, a losing-branch transfer funded before the fork is back in the mempool; one funded by a losing-branch coinbase is evicted', async (t) => {
  // The shape of a partition and heal: side A confirmed two transfers on its branch, side B's heavier branch wins.
  const p = await peer(t);
  const common = new ChainBuilder(regtest);
  const alice = newKey();
  const bob = newKey();
  common.next();
  common.next([common.pay(common.miner, alice, 1_000_000n, 200n)]);
  const sideA = common.fork(2);
  const sideB = common.fork(2);
  // Side A's miner is paid only on side A's branch (coinbase maturity 1: spendable in the next block).
  sideA.next();
  const funded = sideA.pay(alice, bob, 10_000n, 200n);
  const unfunded = sideA.pay(sideA.miner, bob, 10_000n, 200n);
  sideA.next([funded, unfunded]);
  sideB.extend(3);
  for (const built of [...common.built, ...sideA.built.slice(2)]) t.equal((await p.submit(built.block)).status, 'connected');
  t.same(await p.poolIds(), [], 'both transfers confirmed on side A');
  for (const built of sideB.built.slice(2, 4)) t.equal((await p.submit(built.block)).status, 'side-branch');
  // The heaviest block, with mempool requests racing the reorg's events (as a miner's template requests do).
  const racing = Array.from({ length: 5 }, () => p.poolIds());
  t.match(await p.submit(sideB.built[4]!.block), { status: 'reorg', depth: 2 });
  await Promise.all(racing);
  t.equal(p.store.getTip().hash, sideB.tip.hash, 'side B\'s branch won');
  t.same(await p.poolIds(), [txid(funded)], 'the transfer funded before the fork is back, pending');
  t.ok(
    p.events.some((e) => e.type === 'tx-evicted' && e.txid === txid(unfunded) && e.reason === 'invalid-after-reorg'),
    'the transfer spending a coinbase of the losing branch is evicted as invalid after the reorg (it cannot be mined on the winning chain)',
  );
});
