/**
 * Consensus validation: `checkBlock` (each rejection with
 * its code), `checkHeaderContext` and `medianTimePast`, `connectTransactions`
 * (nonces, balances, coinbase height and amount, fees to the miner) and the
 * difficulty retarget `nextBits`, including Bitcoin Core's `pow_tests`
 * vectors.
 *
 * Blocks are mined here on regtest (bits 0x207fffff: about every second
 * nonce passes) by a small local loop.
 */
import t from 'tap';
import { computeMerkleRoot, type Block } from '../../src/core/block.js';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { networkId } from '../../src/core/genesis.js';
import { headerHash, type BlockHeader } from '../../src/core/header.js';
import { BLOCK_VERSION, COIN, MAX_BLOCK_TXS, MAX_MONEY, NETWORKS, blockReward, type NetworkParams } from '../../src/core/params.js';
import { decodeCompact, encodeCompact, hashMeetsTarget, targetFromBits } from '../../src/core/pow.js';
import { AccountOverlay, type Account, type AccountReader } from '../../src/core/state.js';
import { signTransfer, txid, type CoinbaseTx, type Transaction, type TransferTx } from '../../src/core/transaction.js';
import {
  checkBlock,
  checkHeaderContext,
  connectTransactions,
  medianTimePast,
  nextBits,
  type ChainContext,
  type HeaderLike,
} from '../../src/core/validation.js';

const regtest = NETWORKS.regtest;
const regtestId = networkId(regtest);
const alice = keyPairFromSeed(new Uint8Array(32).fill(11));
const bob = keyPairFromSeed(new Uint8Array(32).fill(12));
const carol = keyPairFromSeed(new Uint8Array(32).fill(13));
const miner = keyPairFromSeed(new Uint8Array(32).fill(14));
const hex = (k: { publicKey: Uint8Array }): string => toHex(k.publicKey);

// ---------------------------------------------------------------------------
// Local block making
// ---------------------------------------------------------------------------

/** The header with the first nonce from 0 that meets its target. */
function grind(header: BlockHeader, params: NetworkParams = regtest): BlockHeader {
  const target = targetFromBits(header.bits, params.powLimit);
  if (target === undefined) throw new Error('grind: invalid bits');
  for (let nonce = 0; nonce <= 0xffffffff; nonce++) {
    const h = { ...header, nonce };
    if (hashMeetsTarget(headerHash(h), target)) return h;
  }
  throw new Error('grind: no nonce');
}

/** A mined regtest block over `txs`; `header` overrides fields before grinding. */
function makeBlock(txs: Transaction[], header: Partial<BlockHeader> = {}): Block {
  return {
    header: grind({
      version: BLOCK_VERSION,
      prevHash: regtestId,
      merkleRoot: computeMerkleRoot(txs),
      time: regtest.genesisTime + 1,
      bits: regtest.genesisBits,
      nonce: 0,
      ...header,
    }),
    txs,
  };
}

function coinbase(height: number, amount = blockReward(regtest, height), recipient = miner.publicKey): CoinbaseTx {
  return { type: 'coinbase', recipient, amount, height };
}

function pay(from: { secretKey: Uint8Array }, to: { publicKey: Uint8Array }, amount: bigint, nonce: number, fee = 0n): TransferTx {
  return signTransfer(regtestId, { recipient: to.publicKey, amount, fee, nonce }, from.secretKey);
}

/** Account state for connectTransactions. */
class Accounts implements AccountReader {
  constructor(readonly map = new Map<string, Account>()) {}
  getAccount(key: string): Account | undefined {
    return this.map.get(key);
  }
}

// Signed once, reused (tweetnacl signs in milliseconds).
const aliceToBob = pay(alice, bob, 100n, 0, 5n);
const aliceToCarol = pay(alice, carol, 50n, 1, 7n);

// ---------------------------------------------------------------------------
// checkBlock
// ---------------------------------------------------------------------------

t.test('checkBlock accepts a mined block with a coinbase and signed transfers', async (t) => {
  const b = makeBlock([coinbase(1, blockReward(regtest, 1) + 12n), aliceToBob, aliceToCarol]);
  t.same(checkBlock(b, regtest, regtestId), { ok: true });
  t.same(checkBlock(makeBlock([coinbase(1)]), regtest, regtestId), { ok: true }, 'coinbase only');
});

t.test('checkBlock with a signature cache: a cached txid skips the signature, a changed signature is a new txid and is checked', async (t) => {
  const forged: TransferTx = { ...aliceToBob, signature: Uint8Array.from(aliceToBob.signature).fill(7, 0, 8) };
  const seen = new Set<string>();
  const verified = { has: (id: string) => (seen.add(id), id === txid(aliceToBob)) };
  t.same(checkBlock(makeBlock([coinbase(1, blockReward(regtest, 1) + 5n), aliceToBob]), regtest, regtestId, verified), { ok: true }, 'the cached transfer passes');
  t.ok(seen.has(txid(aliceToBob)), 'the cache was consulted by txid');
  t.match(checkBlock(makeBlock([coinbase(1), forged]), regtest, regtestId, verified), { ok: false, code: 'bad-signature' }, 'a forged signature has another txid, so it is verified and refused');
  const tooMuch: TransferTx = { ...aliceToBob, amount: 0n };
  const cachedAll = { has: () => true };
  t.match(checkBlock(makeBlock([coinbase(1), tooMuch]), regtest, regtestId, cachedAll), { ok: false, code: 'bad-amount' }, 'amounts are checked even for cached transfers');
});

t.test('checkBlock rejects, each with its code', async (t) => {
  const cb = coinbase(1);
  const good = [cb, aliceToBob, aliceToCarol];
  const expect = (name: string, block: Block, code: string, params: NetworkParams = regtest): void => {
    const v = checkBlock(block, params, regtestId);
    t.match(v, { ok: false, code }, `${name} → ${code}`);
    if (!v.ok) t.ok(v.reason.length > 0, `${name}: has a reason (${v.reason})`);
  };

  expect('version 2', makeBlock(good, { version: 2 }), 'bad-version');

  const badMerkle = makeBlock(good, { merkleRoot: computeMerkleRoot([cb, aliceToCarol, aliceToBob]) });
  expect('merkle root of the transactions in another order', badMerkle, 'bad-merkle-root');
  expect('transaction removed after mining', { header: makeBlock(good).header, txs: [cb, aliceToBob] }, 'bad-merkle-root');

  expect('the same transfer twice', makeBlock([cb, aliceToBob, aliceToBob]), 'duplicate-tx');
  // CVE-2012-2459: [cb, a, b] and [cb, a, b, b] share a merkle root, so the
  // mutated block carries valid proof of work; only the duplicate rule catches it.
  const three = makeBlock(good);
  const mutated = { header: three.header, txs: [...good, aliceToCarol] };
  t.same(computeMerkleRoot(mutated.txs), three.header.merkleRoot, 'the mutated block has the same merkle root');
  expect('CVE-2012-2459 mutation', mutated, 'duplicate-tx');

  expect('no transactions', makeBlock([]), 'bad-coinbase-missing');
  expect('a transfer first', makeBlock([aliceToBob, cb]), 'bad-coinbase-missing');
  expect('a second coinbase', makeBlock([cb, aliceToBob, coinbase(1, 1n, alice.publicKey)]), 'bad-coinbase-position');

  const flipped = { ...aliceToCarol, signature: Uint8Array.from(aliceToCarol.signature, (b, i) => (i === 5 ? b ^ 0x10 : b)) };
  const badSig = makeBlock([cb, aliceToBob, flipped]);
  expect('a flipped signature bit', badSig, 'bad-signature');
  const v = checkBlock(badSig, regtest, regtestId);
  t.match(v, { reason: /^transaction 2: / }, 'the reason names the transaction');
  expect('a transfer signed for another network', makeBlock([cb, signTransfer(networkId(NETWORKS.devnet), { recipient: bob.publicKey, amount: 1n, fee: 0n, nonce: 0 }, alice.secretKey)]), 'bad-signature');
  expect('a signature by someone else', makeBlock([cb, { ...aliceToBob, sender: carol.publicKey }]), 'bad-signature');
  expect('a zero amount', makeBlock([cb, pay(alice, bob, 0n, 0)]), 'bad-amount');

  // High hash: the first nonce whose hash misses the target.
  const base = makeBlock(good).header;
  let high = base;
  for (let nonce = 0; ; nonce++) {
    high = { ...base, nonce };
    if (!hashMeetsTarget(headerHash(high), targetFromBits(base.bits, regtest.powLimit)!)) break;
  }
  expect('a nonce that misses the target', { header: high, txs: good }, 'high-hash');

  expect('bits 0', { header: { ...base, bits: 0 }, txs: good }, 'bad-bits');
  expect('negative bits', { header: { ...base, bits: 0x04923456 }, txs: good }, 'bad-bits');
  expect('overflowing bits', { header: { ...base, bits: 0xff123456 }, txs: good }, 'bad-bits');
  expect('bits easier than the network allows', makeBlock(good), 'bad-bits', NETWORKS.devnet);

  // Oversize: the count limit (consensus) binds before the byte limit, see block.test.ts.
  const tooMany = [cb, ...new Array<Transaction>(MAX_BLOCK_TXS).fill(aliceToBob)];
  expect(`${MAX_BLOCK_TXS + 1} transactions`, makeBlock(tooMany), 'bad-tx-count');
});

// ---------------------------------------------------------------------------
// checkHeaderContext, medianTimePast
// ---------------------------------------------------------------------------

/** A chain of headers with these times (heights 0..n-1) and bits. */
function headerChain(times: number[], bits = regtest.genesisBits): HeaderLike[] {
  return times.map((time, height) => ({
    height,
    header: { version: BLOCK_VERSION, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time, bits, nonce: height },
  }));
}

t.test('medianTimePast: the median of the last 11 times, fewer near genesis', async (t) => {
  const chain = headerChain([100, 50, 300, 200, 250, 400, 350, 600, 500, 450, 700, 650, 10]);
  const at = (h: number): HeaderLike | undefined => chain[h];
  t.equal(medianTimePast(chain[0]!, at), 100, 'genesis alone');
  t.equal(medianTimePast(chain[1]!, at), 100, 'two blocks: upper median');
  t.equal(medianTimePast(chain[2]!, at), 100, 'three blocks: 50, 100, 300');
  // heights 2..12: 300 200 250 400 350 600 500 450 700 650 10 → sorted median 400
  t.equal(medianTimePast(chain[12]!, at), 400, 'only the last 11 count, out-of-order times allowed');
});

t.test('checkHeaderContext: bits, time after the median time past, at most maxFutureSeconds ahead', async (t) => {
  const ctx: ChainContext = { height: 5, expectedBits: regtest.genesisBits, medianTimePast: 1_000_000, prevTime: 1_000_000, now: 2_000_000 };
  const header: BlockHeader = { version: 1, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 1_000_001, bits: regtest.genesisBits, nonce: 0 };
  t.same(checkHeaderContext(header, ctx, regtest), { ok: true }, 'one second after the median time past');
  t.match(checkHeaderContext({ ...header, time: ctx.medianTimePast }, ctx, regtest), { ok: false, code: 'time-too-old' }, 'equal to the median time past');
  t.match(checkHeaderContext({ ...header, time: ctx.medianTimePast - 1 }, ctx, regtest), { ok: false, code: 'time-too-old' });
  t.same(checkHeaderContext({ ...header, time: ctx.now + regtest.maxFutureSeconds }, ctx, regtest), { ok: true }, 'exactly maxFutureSeconds ahead');
  t.match(checkHeaderContext({ ...header, time: ctx.now + regtest.maxFutureSeconds + 1 }, ctx, regtest), { ok: false, code: 'time-too-new' });
  t.match(checkHeaderContext({ ...header, bits: 0x207ffffe }, ctx, regtest), { ok: false, code: 'bad-diffbits', reason: /at height 5/ });
  t.equal(regtest.maxFutureSeconds, 7200, "Bitcoin's two hours");
});

// ---------------------------------------------------------------------------
// connectTransactions
// ---------------------------------------------------------------------------

function funded(): Accounts {
  return new Accounts(new Map([[hex(alice), { balance: 1_000n, nonce: 0 }]]));
}

t.test('connectTransactions moves amounts, bumps nonces; the coinbase (reward + fees) waits for its maturity', async (t) => {
  const reward = blockReward(regtest, 1);
  const overlay = new AccountOverlay(funded());
  const b = makeBlock([coinbase(1, reward + 12n), aliceToBob, aliceToCarol]);
  t.same(connectTransactions(b, 1, overlay, regtest), { ok: true });
  t.same(overlay.getAccount(hex(alice)), { balance: 1_000n - 100n - 5n - 50n - 7n, nonce: 2 });
  t.same(overlay.getAccount(hex(bob)), { balance: 100n, nonce: 0 });
  t.same(overlay.getAccount(hex(carol)), { balance: 50n, nonce: 0 });
  t.equal(overlay.getAccount(hex(miner)), undefined, 'the coinbase is not credited in its own block');
  // Block 2 (regtest maturity 1) credits it first: the fees (5 + 7) and the reward.
  const next = new AccountOverlay(overlay);
  t.same(connectTransactions(makeBlock([coinbase(2, blockReward(regtest, 2))]), 2, next, regtest, b.txs[0] as CoinbaseTx), { ok: true });
  t.same(next.getAccount(hex(miner)), { balance: reward + 12n, nonce: 0 }, 'the fees go to the miner when the coinbase matures');
  t.throws(() => connectTransactions(makeBlock([coinbase(2, blockReward(regtest, 2))]), 2, new AccountOverlay(overlay), regtest), RangeError, 'a caller must hand over the maturing coinbase');
  // Nothing is created: what the senders lost is what others gained, plus the reward.
  const total = [alice, bob, carol, miner].reduce((s, k) => s + (next.getAccount(hex(k))?.balance ?? 0n), 0n);
  t.equal(total, 1_000n + reward);
});

t.test('connectTransactions: a coinbase may pay less than allowed, not more', async (t) => {
  const reward = blockReward(regtest, 1);
  const exact = new AccountOverlay(funded());
  t.same(connectTransactions(makeBlock([coinbase(1, reward + 5n), aliceToBob]), 1, exact, regtest), { ok: true }, 'reward + fees exactly');
  const less = new AccountOverlay(funded());
  t.same(connectTransactions(makeBlock([coinbase(1, 1n), aliceToBob]), 1, less, regtest), { ok: true }, 'less: the rest is never minted');
  const more = connectTransactions(makeBlock([coinbase(1, reward + 6n), aliceToBob]), 1, new AccountOverlay(funded()), regtest);
  t.match(more, { ok: false, code: 'bad-coinbase-amount' }, 'reward + fees + 1');
  // The reward halves every halvingInterval blocks.
  const h = regtest.halvingInterval;
  t.equal(blockReward(regtest, h), regtest.initialReward / 2n);
  t.equal(blockReward(regtest, h - 1), regtest.initialReward);
  t.equal(blockReward(regtest, 64 * h), 0n, 'no reward after 64 halvings');
  const matured = coinbase(h - 1);
  t.match(connectTransactions(makeBlock([coinbase(h, regtest.initialReward)]), h, new AccountOverlay(funded()), regtest, matured), { ok: false, code: 'bad-coinbase-amount' }, 'the old reward after a halving');
  t.same(connectTransactions(makeBlock([coinbase(h, regtest.initialReward / 2n)]), h, new AccountOverlay(funded()), regtest, matured), { ok: true });
});

t.test('connectTransactions: the coinbase must be first and carry the block height', async (t) => {
  t.match(connectTransactions(makeBlock([coinbase(2)]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-coinbase-height' });
  t.match(connectTransactions(makeBlock([coinbase(0)]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-coinbase-height' });
  t.match(connectTransactions(makeBlock([aliceToBob]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-coinbase-missing' });
  t.match(connectTransactions(makeBlock([]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-coinbase-missing' });
  // Even without checkBlock first, a second coinbase must not mint coins.
  const overlay = new AccountOverlay(funded());
  const v = connectTransactions(makeBlock([coinbase(1), coinbase(1, 1_000_000n, alice.publicKey)]), 1, overlay, regtest);
  t.match(v, { ok: false, code: 'bad-coinbase-position' });
});

t.test('connectTransactions: nonces in order, each once', async (t) => {
  const cb = coinbase(1);
  t.match(connectTransactions(makeBlock([cb, aliceToCarol]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-nonce', reason: /transaction 1: transfer nonce 1, account expects 0/ }, 'nonce 1 before nonce 0');
  t.match(connectTransactions(makeBlock([cb, aliceToCarol, aliceToBob]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-nonce' }, 'out of order');
  const replay = pay(alice, bob, 99n, 0, 5n);
  t.match(connectTransactions(makeBlock([cb, aliceToBob, replay]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'bad-nonce', reason: /transaction 2/ }, 'nonce 0 twice');
  // Replay across blocks: after block 1, the same transfer is stale.
  const overlay = new AccountOverlay(funded());
  t.same(connectTransactions(makeBlock([coinbase(1, blockReward(regtest, 1) + 5n), aliceToBob]), 1, overlay, regtest), { ok: true });
  const next = new AccountOverlay(new Accounts(new Map(overlay.changed)));
  t.match(connectTransactions(makeBlock([coinbase(2, blockReward(regtest, 2) + 5n), aliceToBob]), 2, next, regtest, coinbase(1)), { ok: false, code: 'bad-nonce' }, 'replayed in the next block');
});

t.test('connectTransactions: the sender must hold amount + fee', async (t) => {
  const cb = (fees: bigint): CoinbaseTx => coinbase(1, blockReward(regtest, 1) + fees);
  const all = pay(alice, bob, 990n, 0, 10n);
  const overlay = new AccountOverlay(funded());
  t.same(connectTransactions(makeBlock([cb(10n), all]), 1, overlay, regtest), { ok: true }, 'the whole balance');
  t.same(overlay.getAccount(hex(alice)), { balance: 0n, nonce: 1 });
  const oneOver = pay(alice, bob, 990n, 0, 11n);
  t.match(connectTransactions(makeBlock([cb(11n), oneOver]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'insufficient-balance' }, 'one base unit short (in the fee)');
  t.match(connectTransactions(makeBlock([cb(0n), pay(bob, carol, 1n, 0)]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'insufficient-balance' }, 'an account that does not exist');
  // Within a block, order matters: bob may spend what he received earlier in the block.
  const bobToCarol = pay(bob, carol, 100n, 0);
  t.same(connectTransactions(makeBlock([cb(5n), aliceToBob, bobToCarol]), 1, new AccountOverlay(funded()), regtest), { ok: true }, 'received, then spent');
  t.match(connectTransactions(makeBlock([cb(5n), bobToCarol, aliceToBob]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'insufficient-balance' }, 'spent before received');
  // The miner cannot spend this block's coinbase inside it: the coinbase is applied last.
  const minerSpends = pay(miner, carol, 1n, 0);
  t.match(connectTransactions(makeBlock([cb(0n), minerSpends]), 1, new AccountOverlay(funded()), regtest), { ok: false, code: 'insufficient-balance' });
});

t.test('connectTransactions: balances never exceed MAX_MONEY', async (t) => {
  const rich = new Accounts(new Map([[hex(alice), { balance: MAX_MONEY, nonce: 0 }], [hex(bob), { balance: MAX_MONEY, nonce: 0 }]]));
  t.match(connectTransactions(makeBlock([coinbase(1), pay(alice, bob, 1n, 0)]), 1, new AccountOverlay(rich), regtest), { ok: false, code: 'balance-overflow' });
  t.match(connectTransactions(makeBlock([coinbase(2, 1n)]), 2, new AccountOverlay(rich), regtest, coinbase(1, 1n, bob.publicKey)), { ok: false, code: 'balance-overflow' }, 'a maturing coinbase too');
});

// ---------------------------------------------------------------------------
// nextBits
// ---------------------------------------------------------------------------

/** Bitcoin's retarget parameters (2016 blocks of 600 s, powLimit 2^224 - 1), for Bitcoin Core's vectors. */
const BITCOIN_LIKE: NetworkParams = { ...NETWORKS.mainnet, retargetInterval: 2016, blockTimeSeconds: 600, powLimit: (1n << 224n) - 1n, noRetarget: false };

/**
 * Bitcoin Core `src/test/pow_tests.cpp`: the last block (height, time, bits),
 * the time of the first block of the interval, the expected bits.
 */
const POW_TESTS = [
  { name: 'get_next_work', height: 32255, time: 1262152739, bits: 0x1d00ffff, firstTime: 1261130161, expected: 0x1d00d86a },
  { name: 'get_next_work_pow_limit', height: 2015, time: 1233061996, bits: 0x1d00ffff, firstTime: 1231006505, expected: 0x1d00ffff },
  { name: 'get_next_work_lower_limit_actual', height: 68543, time: 1279297671, bits: 0x1c05a3f4, firstTime: 1279008237, expected: 0x1c0168fd },
  { name: 'get_next_work_upper_limit_actual', height: 46367, time: 1269211443, bits: 0x1c387f6f, firstTime: 1263163443, expected: 0x1d00e1fd },
];

function lastAndFirst(height: number, time: number, bits: number, firstTime: number, params: NetworkParams): { prev: HeaderLike; ancestor: (h: number) => HeaderLike | undefined; asked: number[] } {
  const mk = (h: number, tm: number): HeaderLike => ({ height: h, header: { version: 1, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: tm, bits, nonce: 0 } });
  const prev = mk(height, time);
  const asked: number[] = [];
  // The full window: from the last block of the previous window (never genesis).
  const firstHeight = Math.max(1, height - params.retargetInterval);
  return {
    prev,
    asked,
    ancestor: (h) => {
      asked.push(h);
      return h === firstHeight ? mk(h, firstTime) : undefined;
    },
  };
}

t.test("nextBits reproduces Bitcoin Core's pow_tests vectors", async (t) => {
  for (const v of POW_TESTS) {
    const { prev, ancestor, asked } = lastAndFirst(v.height, v.time, v.bits, v.firstTime, BITCOIN_LIKE);
    t.equal(nextBits(prev, ancestor, BITCOIN_LIKE), v.expected, `${v.name}: 0x${v.expected.toString(16)}`);
    t.same(asked, [Math.max(1, v.height - 2016)], `${v.name}: the window starts 2016 blocks before the last one (Bitcoin: 2015, its off-by-one)`);
  }
});

t.test('nextBits with windows (devnet\'s limits, windows of 20): faster → harder, slower → easier, clamped at 4×, never above powLimit', async (t) => {
  const devnet: NetworkParams = (({ asertHalfLifeSeconds: _, ...rest }) => ({ ...rest, retargetInterval: 20 }))(NETWORKS.devnet);
  const interval = devnet.retargetInterval;
  const span = interval * devnet.blockTimeSeconds;
  const startBits = encodeCompact(devnet.powLimit >> 8n);
  const target = (bits: number): bigint => decodeCompact(bits).target;
  const retarget = (actual: number, bits = startBits): number => {
    const { prev, ancestor } = lastAndFirst(2 * interval - 1, 1_000_000 + actual, bits, 1_000_000, devnet);
    return nextBits(prev, ancestor, devnet);
  };
  const close = (a: bigint, b: bigint): boolean => (a > b ? a - b : b - a) <= b >> 15n; // compact keeps ~16 bits
  t.equal(retarget(span), startBits, 'on schedule: unchanged');
  t.ok(close(target(retarget(span / 2)), target(startBits) / 2n), 'twice as fast: half the target');
  t.ok(target(retarget(span / 2)) < target(startBits), 'faster → harder');
  t.ok(close(target(retarget(span * 2)), target(startBits) * 2n), 'twice as slow: twice the target');
  t.ok(target(retarget(span * 2)) > target(startBits), 'slower → easier');
  t.ok(close(target(retarget(span * 100)), target(startBits) * 4n), '100× slower: clamped at 4×');
  t.equal(retarget(span * 100), retarget(span * 4), 'clamp: 100× = 4×');
  t.ok(close(target(retarget(1)), target(startBits) / 4n), 'almost instant: clamped at 1/4');
  t.equal(retarget(0), retarget(span / 4), 'clamp: 0 s = span/4');
  t.equal(retarget(-500), retarget(span / 4), 'time going backwards: clamped like 0');
  // Never easier than powLimit.
  const atLimit = encodeCompact(devnet.powLimit);
  for (const bits of [atLimit, encodeCompact(devnet.powLimit / 2n)]) {
    const next = retarget(span * 4, bits);
    t.ok(target(next) <= devnet.powLimit, `slow blocks at 0x${bits.toString(16)}: target stays ≤ powLimit`);
    t.ok(targetFromBits(next, devnet.powLimit) !== undefined, 'and the bits are valid on devnet');
  }
  // Between retargets the bits stay.
  const mid = lastAndFirst(interval + 3, 1, startBits, 0, devnet);
  t.equal(nextBits(mid.prev, mid.ancestor, devnet), startBits, 'not a retarget height');
  t.same(mid.asked, [], 'and no ancestor is looked up');
});

t.test('nextBits on regtest never changes', async (t) => {
  for (const actual of [0, 1, 10, 1_000_000]) {
    const { prev, ancestor } = lastAndFirst(regtest.retargetInterval - 1, 1_000_000 + actual, regtest.genesisBits, 1_000_000, regtest);
    t.equal(nextBits(prev, ancestor, regtest), regtest.genesisBits, `interval took ${actual} s`);
  }
});
