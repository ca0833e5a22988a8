/**
 * Consensus rules added against a hostile miner: BIP 94's timewarp rule,
 * the future-time allowance scaled to the spacing, the retarget window over
 * the full interval, devnet's ASERT, coinbase maturity, and MAX_MONEY above
 * every network's issuance.
 */
import t from 'tap';
import { MAX_MONEY, NETWORKS, NETWORK_NAMES, blockReward, totalIssuance, type NetworkParams } from '../../src/core/params.js';
import { asertTarget, decodeCompact, encodeCompact, workFromBits } from '../../src/core/pow.js';
import type { BlockHeader } from '../../src/core/header.js';
import { checkHeaderContext, minTimeForTimewarp, nextBits, type HeaderLike } from '../../src/core/validation.js';
import { ChainBuilder, keyHex, regtest } from '../helpers/chain-builder.js';

const devnet = NETWORKS.devnet;
/** Devnet with Bitcoin's windows of 20 blocks instead of ASERT: the window rules under test. */
const windowed: NetworkParams = (({ asertHalfLifeSeconds: _, ...rest }) => ({ ...rest, retargetInterval: 20 }))(devnet);

/** A chain of headers at the network's genesis bits, `spacing` s apart, heights 0..n. */
function headers(n: number, spacing: number, params: NetworkParams = windowed): HeaderLike[] {
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
  const chain = headers(windowed.retargetInterval - 1, windowed.blockTimeSeconds);
  const prev = chain[chain.length - 1]!;
  const at = (h: number) => chain[h];
  const height = windowed.retargetInterval;
  const ctx = { height, expectedBits: nextBits(prev, at, windowed), medianTimePast: prev.header.time - 30, prevTime: prev.header.time, now: prev.header.time };
  const header: BlockHeader = { ...prev.header, bits: ctx.expectedBits, time: prev.header.time - windowed.maxTimewarpSeconds };
  t.same(checkHeaderContext(header, ctx, windowed), { ok: true }, 'exactly at the bound');
  t.match(checkHeaderContext({ ...header, time: header.time - 1 }, ctx, windowed), { ok: false, code: 'bad-timewarp' }, 'one second earlier: timewarped');
  t.same(checkHeaderContext({ ...header, time: header.time - 1 }, { ...ctx, height: height + 1 }, windowed), { ok: true }, 'mid-window blocks only obey the median time past');
  t.equal(minTimeForTimewarp(height, 1000, regtest), 0, 'no retargets, no bound (regtest)');
  t.equal(minTimeForTimewarp(height, 1000, devnet), 0, 'no windows, no bound (devnet, ASERT)');
});

t.test('the future-time allowance is scaled to the spacing: far below the window on every retargeting network', async (t) => {
  const mainnet = NETWORKS.mainnet;
  const window = mainnet.retargetInterval * mainnet.blockTimeSeconds;
  t.ok(mainnet.maxFutureSeconds <= window * 0.1, `mainnet: ${mainnet.maxFutureSeconds} s ≤ 10 % of the ${window} s window`);
  // Under ASERT a block stamped at the limit eases the next target by 2^(maxFuture / half-life).
  const easing = 2 ** (devnet.maxFutureSeconds / devnet.asertHalfLifeSeconds!);
  t.ok(easing <= 1.3, `devnet: a block at the future limit eases the next target ${easing.toFixed(3)}×, at most 1.3×`);
});

t.test('the retarget window spans the full interval: blocks exactly on time keep the target', async (t) => {
  const n = windowed.retargetInterval * 3 - 1;
  const chain = headers(n, windowed.blockTimeSeconds);
  const prev = chain[n]!;
  const bits = nextBits(prev, (h) => chain[h], windowed);
  t.equal(decodeCompact(bits).target, decodeCompact(windowed.genesisBits).target & ~0n, 'on-time window: the same target (to compact precision)');
  // The last block of a window stamped maxFutureSeconds late moves the next target by maxFuture / window, not 4×.
  const late = chain.map((x) => ({ ...x, header: { ...x.header } }));
  late[n]!.header.time += windowed.maxFutureSeconds;
  const easier = decodeCompact(nextBits(late[n]!, (h) => late[h], windowed)).target;
  const ratio = Number((easier * 1000n) / decodeCompact(windowed.genesisBits).target) / 1000;
  t.ok(ratio <= 1 + windowed.maxFutureSeconds / (windowed.retargetInterval * windowed.blockTimeSeconds) + 0.01, `a future-stamped window end makes the target ${ratio}× easier`);
});


t.test('ASERT (aserti3-2d): on schedule the target stays; each half-life behind doubles it, each ahead halves it', async (t) => {
  const anchor = decodeCompact(0x1d00ffff).target;
  const limit = (1n << 240n) - 1n;
  const at = (timeDiff: number, heightDiff: number): bigint => asertTarget(anchor, timeDiff, heightDiff, 600, 172_800, limit);
  t.equal(at(0, 0), anchor, 'the anchor itself');
  t.equal(at(6_000, 10), anchor, 'ten blocks exactly on schedule');
  t.equal(at(6_000 + 172_800, 10), anchor * 2n, 'one half-life behind: exactly twice the target');
  t.equal(at(6_000 - 172_800, 10), anchor / 2n, 'one half-life ahead: exactly half');
  t.equal(at(6_000 + 3 * 172_800, 10), anchor * 8n, 'three behind: 8×');
  // Between whole half-lives the cubic approximation of 2^x is within 0.013 % of the exact value.
  for (const frac of [0.1, 0.25, 0.5, 0.75, 0.9]) {
    const got = Number((at(6_000 + Math.round(frac * 172_800), 10) * 1_000_000n) / anchor) / 1_000_000;
    t.ok(Math.abs(got / 2 ** frac - 1) < 0.00015, `${frac} of a half-life behind: ${got} ≈ 2^${frac}`);
  }
  t.ok(at(6_001, 10) >= at(6_000, 10) && at(5_999, 10) <= at(6_000, 10), 'monotonic in time');
  t.equal(at(1e9, 1), limit, 'absurdly late: powLimit, computed at once');
  t.equal(at(6_000 + 17 * 172_800, 10), limit, 'beyond powLimit: capped');
  t.equal(at(-1e9, 1), 1n, 'absurdly early: target 1, never 0');
});

t.test('devnet under ASERT: block 1 at the genesis bits, later blocks from block 1 and the schedule', async (t) => {
  const spacing = devnet.blockTimeSeconds;
  const chain = headers(40, spacing, devnet);
  const bitsAfter = (c: HeaderLike[], h: number): number => nextBits(c[h]!, (x) => c[x], devnet);
  t.equal(bitsAfter(chain, 0), devnet.genesisBits, 'block 1: the genesis bits');
  t.equal(bitsAfter(chain, 1), devnet.genesisBits, 'block 2: the anchor\'s');
  t.equal(bitsAfter(chain, 40), devnet.genesisBits, 'on schedule: unchanged at every height');
  const late = chain.map((x, h) => ({ ...x, header: { ...x.header, time: x.header.time + (h >= 1 ? devnet.asertHalfLifeSeconds! : 0) * (h >= 10 ? 1 : 0) } }));
  const anchorTarget = decodeCompact(devnet.genesisBits).target;
  const twice = decodeCompact(bitsAfter(late, 10)).target;
  t.ok(twice > anchorTarget * 2n - (anchorTarget >> 15n) && twice <= anchorTarget * 2n, 'a half-life behind after block 10: twice the target (to compact precision)');
  t.equal(bitsAfter(late, 9), devnet.genesisBits, 'before the delay: unchanged');
});

/** Seeded exponential draws (mulberry32), so the simulation below is the same on every run. */
function exponential(seed: number): (mean: number) => number {
  let a = seed >>> 0;
  return (mean) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    const u = ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    return -Math.log(1 - u) * mean;
  };
}

t.test('devnet under ASERT reaches its block time within a minute from a hash rate 16× or 1/4 of the genesis assumption', async (t) => {
  const spacing = devnet.blockTimeSeconds;
  const genesisWork = Number(workFromBits(devnet.genesisBits));
  for (const [label, factor] of [['16× faster', 16], ['4× slower', 0.25]] as const) {
    for (const seed of [1, 2, 3]) {
      const draw = exponential(seed);
      const hashRate = (genesisWork / spacing) * factor;
      const chain: HeaderLike[] = headers(0, spacing, devnet);
      let now = 1_800_000_000;
      for (let h = 1; h <= 150; h++) {
        const prev = chain[h - 1]!;
        const bits = nextBits(prev, (x) => chain[x], devnet);
        now += draw(Number(workFromBits(bits)) / hashRate);
        chain.push({ height: h, header: { ...prev.header, bits, time: Math.max(Math.floor(now), prev.header.time) } });
      }
      const settled = chain.findIndex((x) => x.height > 1 && x.header.time - chain[1]!.header.time >= 60);
      const gaps = chain.slice(settled).map((x, i, a) => (i === 0 ? 0 : x.header.time - a[i - 1]!.header.time)).slice(1);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      t.ok(Math.abs(mean - spacing) <= 0.3 * spacing, `${label}, seed ${seed}: after the first minute (${settled} blocks) the mean interval is ${mean.toFixed(2)} s (target ${spacing} s ± 30 %)`);
    }
  }
});

t.test('a devnet ASERT target is always valid bits for the network', async (t) => {
  for (const timeDiff of [-1e6, -3600, 0, 3600, 1e6]) {
    const target = asertTarget(decodeCompact(devnet.genesisBits).target, timeDiff, 100, devnet.blockTimeSeconds, devnet.asertHalfLifeSeconds!, devnet.powLimit);
    t.ok(target >= 1n && target <= devnet.powLimit, `time difference ${timeDiff} s: within [1, powLimit]`);
    t.equal(decodeCompact(encodeCompact(target)).negative, false, 'and encodes as positive compact bits');
  }
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
