/**
 * The miner actor alone: stub chain and mempool refs, a hash-power source the
 * test answers by hand, a manual clock. Templates, submission of solved
 * blocks, cancellation on a new tip, the refresh limit for mempool changes
 * (the actor with the real piscina pool is tested in test/mining and
 * test/network).
 */
import t from 'tap';
import { computeMerkleRoot, type Block } from '../../src/core/block.js';
import { ManualClock } from '../../src/core/clock.js';
import { decodeHeader, encodeHeader } from '../../src/core/header.js';
import { BLOCK_VERSION, MAX_BLOCK_TXS, NETWORKS, blockReward } from '../../src/core/params.js';
import { decodeCompact } from '../../src/core/pow.js';
import type { TransferTx } from '../../src/core/transaction.js';
import { EventBus, type NodeEvent } from '../../src/actors/events.js';
import type { ChainMsg, NextBlockContext, SubmitBlockResult } from '../../src/actors/chain.js';
import type { MempoolMsg } from '../../src/actors/mempool.js';
import { MinerActor, TEMPLATE_REFRESH_MS, type MinerMsg, type MinerStats } from '../../src/actors/miner.js';
import { Reply } from '../../src/actors/runtime/actor.js';
import type { Miner, MiningSolution, MiningWork } from '../../src/mining/types.js';
import { StubContext, StubRef } from '../helpers/actor-harness.js';
import { keyFromSeed, transfer } from '../helpers/chain-builder.js';

const params = NETWORKS.regtest;
const ADDRESS = keyFromSeed(7).publicKey;

/** Hash power whose results the test gives: each `mine` call waits in `jobs`. */
class ManualMiner implements Miner {
  readonly jobs: Array<{ work: MiningWork; signal: AbortSignal; solve(nonce: number): void; fail(err: Error): void }> = [];
  mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => resolve(null));
      this.jobs.push({
        work,
        signal,
        solve: (nonce) => {
          const header = decodeHeader(work.header);
          resolve({ header: encodeHeader({ ...header, nonce }), hashes: nonce + 1 });
        },
        fail: (err) => reject(err),
      });
    });
  }
  hashRate(): number {
    return 1234;
  }
  async close(): Promise<void> {}
  get last() {
    const job = this.jobs[this.jobs.length - 1];
    if (!job) throw new Error('no job');
    return job;
  }
}

async function setup() {
  const clock = new ManualClock(1_795_000_600_000);
  const bus = new EventBus();
  const events: NodeEvent[] = [];
  bus.subscribe((e) => events.push(e));
  let height = 1;
  const prevHash = new Uint8Array(32).fill(0xaa);
  const context = (): NextBlockContext => ({ prevHash, height, bits: params.genesisBits, medianTimePast: 1_795_000_000, minTime: 1_795_000_001 });
  let pending: TransferTx[] = [];
  let submitResult: (block: Block) => SubmitBlockResult = () => ({ status: 'connected', hash: 'b'.repeat(64), height });
  const submitted: Block[] = [];
  const chain = new StubRef<ChainMsg>('chain', {
    'chain/next-block-context': () => context(),
    'chain/submit-block': (m) => {
      submitted.push(m.block);
      return submitResult(m.block);
    },
  });
  const mempool = new StubRef<MempoolMsg>('mempool', { 'mempool/template': () => pending });
  const miner = new ManualMiner();
  const actor = new MinerActor({ params, chain, mempool, miner, address: ADDRESS, bus, clock });
  const ctx = new StubContext<MinerMsg>('miner');
  actor.start(ctx);
  const send = (msg: MinerMsg): Promise<void> => Promise.resolve(actor.receive(msg));
  /** Hands the next fact the pool delivered (a solution or a failure) to the actor. */
  const deliverNext = async (): Promise<void> => send(await ctx.next());
  const stats = (): Promise<MinerStats> => new Promise((resolve, reject) => void send({ type: 'miner/stats', reply: new Reply(resolve, reject) }));
  t.teardown(() => actor.stop());
  return {
    clock, bus, events, chain, mempool, miner, actor, ctx, send, deliverNext, stats, submitted,
    setHeight: (n: number) => (height = n),
    setPending: (txs: TransferTx[]) => (pending = txs),
    setSubmitResult: (f: (block: Block) => SubmitBlockResult) => (submitResult = f),
  };
}

t.test('start: a template on the tip pays reward plus fees to the address, and goes to the pool with its target', async (t) => {
  const { send, miner, setPending, mempool } = await setup();
  const txs = [transfer(params, keyFromSeed(1), keyFromSeed(2), 5n, 0, 3n), transfer(params, keyFromSeed(1), keyFromSeed(2), 5n, 1, 4n)];
  setPending(txs);
  await send({ type: 'miner/start' });
  t.equal(miner.jobs.length, 1);
  const header = decodeHeader(miner.last.work.header);
  t.equal(header.version, BLOCK_VERSION);
  t.same(header.prevHash, new Uint8Array(32).fill(0xaa));
  t.equal(header.bits, params.genesisBits);
  t.equal(header.time, 1_795_000_600, 'the clock, in seconds: later than the median time past');
  t.equal(miner.last.work.target, decodeCompact(params.genesisBits).target);
  const coinbase = { type: 'coinbase' as const, recipient: ADDRESS, amount: blockReward(params, 1) + 7n, height: 1 };
  t.same(header.merkleRoot, computeMerkleRoot([coinbase, ...txs]), 'coinbase first, then the mempool transfers');
  t.match(mempool.of('mempool/template'), [{ maxTxs: MAX_BLOCK_TXS - 1 }]);
  await send({ type: 'miner/start' });
  t.equal(miner.jobs.length, 1, 'starting twice starts one job');
});

t.test('a header time never goes below the median time past + 1', async (t) => {
  const { send, miner, clock } = await setup();
  clock.set(1_700_000_000_000);
  await send({ type: 'miner/start' });
  t.equal(decodeHeader(miner.last.work.header).time, 1_795_000_001);
});

t.test('a solved block goes to the chain; when connected it is counted, announced as mined, and mining goes on', async (t) => {
  const { send, deliverNext, stats, miner, submitted, events } = await setup();
  await send({ type: 'miner/start' });
  miner.last.solve(42);
  await deliverNext();
  t.equal(submitted.length, 1);
  t.equal(submitted[0]!.header.nonce, 42);
  t.match(events, [{ type: 'block-mined', hash: 'b'.repeat(64), height: 1 }]);
  t.equal(miner.jobs.length, 2, 'the next template is mined at once');
  t.same(await stats(), { mining: true, hashRate: 1234, blocksMined: 1 });
});

t.test('our own block refused as invalid makes the mempool re-check itself', async (t) => {
  const { send, deliverNext, miner, mempool, setSubmitResult, events } = await setup();
  setSubmitResult(() => ({ status: 'invalid', hash: 'c'.repeat(64), code: 'bad-nonce', reason: 'a stale transfer' }));
  await send({ type: 'miner/start' });
  miner.last.solve(1);
  await deliverNext();
  t.same(mempool.of('mempool/revalidate'), [{ type: 'mempool/revalidate' }]);
  t.same(events, [], 'nothing mined');
});

t.test('a new tip aborts the work in progress; a late solution of the old template is dropped', async (t) => {
  const { send, deliverNext, miner, submitted, setHeight } = await setup();
  await send({ type: 'miner/start' });
  const old = miner.last;
  setHeight(2);
  await send({ type: 'miner/tip-changed' });
  t.ok(old.signal.aborted);
  t.equal(miner.jobs.length, 2);
  await deliverNext(); // the aborted job's null
  old.solve(9);
  t.same(submitted, [], 'an aborted job submits nothing');
  const fresh = miner.last;
  fresh.solve(3);
  await deliverNext();
  t.equal(submitted.length, 1);
  t.equal((submitted[0]!.txs[0] as { height: number }).height, 2, 'the block of the new tip');
});

t.test(`mempool changes rebuild the template at most every ${TEMPLATE_REFRESH_MS} ms`, async (t) => {
  const { send, miner, clock, chain } = await setup();
  await send({ type: 'miner/start' });
  clock.advance(TEMPLATE_REFRESH_MS - 1);
  await send({ type: 'miner/mempool-changed' });
  t.equal(miner.jobs.length, 1, 'too soon: no new template');
  t.equal(chain.of('chain/next-block-context').length, 1);
  clock.advance(1);
  await send({ type: 'miner/mempool-changed' });
  t.equal(miner.jobs.length, 2, 'old enough: rebuilt');
  t.ok(miner.jobs[0]!.signal.aborted);
});

t.test('stop aborts the work; while stopped nothing is mined', async (t) => {
  const { send, stats, miner, events } = await setup();
  await send({ type: 'miner/start' });
  await send({ type: 'miner/stop' });
  t.ok(miner.last.signal.aborted);
  await send({ type: 'miner/tip-changed' });
  await send({ type: 'miner/mempool-changed' });
  t.equal(miner.jobs.length, 1);
  t.same(await stats(), { mining: false, hashRate: 0, blocksMined: 0 });
  t.same(events, []);
});

t.test('a pool failure of the current work crashes the actor; one of old work is ignored', async (t) => {
  const { send, miner, ctx } = await setup();
  await send({ type: 'miner/start' });
  const old = miner.last;
  await send({ type: 'miner/tip-changed' });
  await ctx.next(); // the aborted job's null
  old.fail(new Error('worker died'));
  t.same(ctx.mailbox, [], 'a settled job reports once');
  miner.last.fail(new Error('worker died'));
  const failed = await ctx.next();
  await t.rejects(send(failed), { message: 'worker died' });
  await t.resolves(send({ type: 'miner/failed', generation: 1, error: new Error('stale') }), 'an old generation is ignored');
});
