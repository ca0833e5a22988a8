/**
 * Consensus rules added against a hostile miner: BIP 94's timewarp rule,
 * the future-time allowance scaled to the spacing, the retarget window over
 * the full interval, coinbase maturity, and MAX_MONEY above every network's
 * issuance.
 */
import t from 'tap';
import { MAX_MONEY, NETWORKS, NETWORK_NAMES, blockReward, totalIssuance, type NetworkParams } from '../../src/core/params.js';
import { decodeCompact } from '../../src/core/pow.js';
import type { BlockHeader } from '../../src/core/header.js';
import { checkHeaderContext, minTimeForTimewarp, nextBits, type HeaderLike } from '../../src/core/validation.js';
import { ChainBuilder, keyHex, regtest } from '../helpers/chain-builder.js';

const devnet = NETWORKS.devnet;

/** A chain of headers at devnet's genesis bits, `spacing` s apart, heights 0..n. */
function headers(n: number, spacing: number, params: NetworkParams = devnet): HeaderLike[] {
  return Array.from({ length: n + 1 }, (_, h) => ({ height: h, header: { version: 1, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 1_800_000_000 + h * spacing, bits: params.genesisBits, nonce: 0 } }));
}

t.test('MAX_MONEY is at least the total issuance of every network', async (t) => {
  for (const name of NETWORK_NAMES) {
    const p = NETWORKS[name];
    t.ok(totalIssuance(p) <= MAX_MONEY, `${name}: issuance ${totalIssuance(p)} ≤ MAX_MONEY ${MAX_MONEY}`);
  }
  t.ok(totalIssuance(NETWORKS.mainnet) > 21_000_000n * 100_000_000n, 'mainnet issues more than the old 21 M cap');
  
});

t.test('BIP 94: the first block of a retarget window may not be earlier than its parent minus maxTimewarpSeconds', async (t) => {
  const chain = headers(devnet.retargetInterval - 1, devnet.blockTimeSeconds);
  const prev = chain[chain.length - 1]!;
  const at = (h: number) => chain[h];
  const height = devnet.retargetInterval;
  const ctx = { height, expectedBits: nextBits(prev, at, devnet), medianTimePast: prev.header.time - 30, prevTime: prev.header.time, now: prev.header.time };
  const header: BlockHeader = { ...prev.header, bits: ctx.expectedBits, time: prev.header.time - devnet.maxTimewarpSeconds };
  t.same(checkHeaderContext(header, ctx, devnet), { ok: true }, 'exactly at the bound');
  t.match(checkHeaderContext({ ...header, time: header.time - 1 }, ctx, devnet), { ok: false, code: 'bad-timewarp' }, 'one second earlier: timewarped');
  t.same(checkHeaderContext({ ...header, time: header.time - 1 }, { ...ctx, height: height + 1 }, devnet), { ok: true }, 'mid-window blocks only obey the median time past');
  t.equal(minTimeForTimewarp(height, 1000, regtest), 0, 'no retargets, no bound (regtest)');
});

t.test('the future-time allowance is scaled to the spacing: far below the window on every retargeting network', async (t) => {
  for (const name of ['mainnet', 'devnet'] as const) {
    const p = NETWORKS[name];
    const window = p.retargetInterval * p.blockTimeSeconds;
    t.ok(p.maxFutureSeconds <= window * 0.1, `${name}: ${p.maxFutureSeconds} s ≤ 10 % of the ${window} s window`);
  }
});

t.test('the retarget window spans the full interval: blocks exactly on time keep the target', async (t) => {
  const n = devnet.retargetInterval * 3 - 1;
  const chain = headers(n, devnet.blockTimeSeconds);
  const prev = chain[n]!;
  const bits = nextBits(prev, (h) => chain[h], devnet);
  t.equal(decodeCompact(bits).target, decodeCompact(devnet.genesisBits).target & ~0n, 'on-time window: the same target (to compact precision)');
  // The last block of a window stamped maxFutureSeconds late moves the next target by maxFuture / window, not 4×.
  const late = chain.map((x) => ({ ...x, header: { ...x.header } }));
  late[n]!.header.time += devnet.maxFutureSeconds;
  const easier = decodeCompact(nextBits(late[n]!, (h) => late[h], devnet)).target;
  const ratio = Number((easier * 1000n) / decodeCompact(devnet.genesisBits).target) / 1000;
  t.ok(ratio <= 1 + devnet.maxFutureSeconds / (devnet.retargetInterval * devnet.blockTimeSeconds) + 0.01, `a future-stamped window end makes the target ${ratio}× easier`);
});

t.test('coinbase maturity: a coinbase is credited coinbaseMaturity blocks later, before that block\'s transfers', async (t) => {
  const params: NetworkParams = { ...regtest, coinbaseMaturity: 3 };
  const b = new ChainBuilder(params);
  b.extend(2);
  t.equal(b.account(b.miner).balance, 0n, 'two blocks mined, nothing spendable');
  t.throws(() => b.next([b.pay(b.miner, b.miner.publicKey, 1_000n, 200n)]), /insufficient-balance/, 'spending the coinbase of block 1 in block 3 is invalid');
  b.next();
  t.equal(b.account(keyHex(b.miner)).balance, 0n, 'block 3 credits the coinbase of height 0: none');
  b.next();
  t.equal(b.account(keyHex(b.miner)).balance, blockReward(params, 1), 'block 4 credited the coinbase of block 1');
  t.doesNotThrow(() => b.next([b.pay(b.miner, b.miner.publicKey, 1_000n, 200n)]), 'and it is spendable');
  t.ok(NETWORKS.mainnet.coinbaseMaturity >= 100 && NETWORKS.devnet.coinbaseMaturity <= 10 && regtest.coinbaseMaturity === 1, 'named per network');
});
