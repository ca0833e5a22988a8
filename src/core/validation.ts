import { blockSize, blockTxIds, type Block, type BlockTxIds } from './block.js';
import { merkleRoot } from './merkle.js';
import { verifySignature } from './ed25519.js';
import { bytesEqual } from './encoding.js';
import { headerHash, type BlockHeader } from './header.js';
import { BLOCK_VERSION, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_MONEY, MEDIAN_TIME_SPAN, blockReward, type NetworkParams } from './params.js';
import { asertTarget, decodeCompact, encodeCompact, hashMeetsTarget, targetFromBits } from './pow.js';
import { OK, reject, type Rejection, type Verdict } from './reject.js';
import { AccountOverlay, type AccountReader } from './state.js';
import { signingBytes, type CoinbaseTx, type TransferTx } from './transaction.js';

/**
 * Context-free checks of a transfer: amount at least 1 base unit, fee not
 * negative, fee and amount + fee within MAX_MONEY, a valid ed25519 signature
 * over {@link signingBytes} for `networkId` (one consensus rule, see
 * `ed25519.ts`). Decoders never produce a negative fee, but a transfer built
 * in-process could carry one, and its u64 encoding would then name another
 * fee than the one applied (2^64 + fee), so the rule is checked here.
 */
export function checkTransfer(tx: TransferTx, networkId: Uint8Array): Verdict {
  const amounts = checkTransferAmounts(tx);
  if (!amounts.ok) return amounts;
  if (!verifyTransferSignature(tx, networkId)) return badSignature();
  return OK;
}

/**
 * The signature rule of a transfer: ed25519 (`ed25519.ts`, one consensus
 * rule) over {@link signingBytes} for `networkId` by the sender's key. The
 * function every verifier runs, on the node's thread or in a worker.
 */
export function verifyTransferSignature(tx: TransferTx, networkId: Uint8Array): boolean {
  return verifySignature(signingBytes(networkId, tx), tx.signature, tx.sender);
}

/** The rejection of a transfer whose signature fails {@link verifyTransferSignature}. */
export function badSignature(index?: number): Rejection {
  const reason = 'signature does not verify for the sender key';
  return reject('bad-signature', index === undefined ? reason : `transaction ${index}: ${reason}`);
}

/** The amount rules of {@link checkTransfer}, without the signature (cheap: no curve arithmetic). */
export function checkTransferAmounts(tx: TransferTx): Verdict {
  if (tx.amount < 1n) return reject('bad-amount', 'amount must be at least 1 base unit');
  if (tx.fee < 0n) return reject('bad-amount', 'fee must not be negative');
  if (tx.amount > MAX_MONEY || tx.fee > MAX_MONEY || tx.amount + tx.fee > MAX_MONEY) {
    return reject('bad-amount', 'amount + fee exceeds MAX_MONEY');
  }
  return OK;
}

/**
 * Transfers already known to carry a valid signature on the caller's network
 * (Bitcoin Core's signature cache, `CSignatureCache`: a block whose
 * transactions were verified when they entered the mempool is not verified
 * again). Keyed by txid, display hex: the txid is SHA-256d of the whole
 * encoding, which commits to every signed field and to the signature, so two
 * transfers with one txid have the same signature verdict on a network. Only
 * successful verifications may be recorded, and only for the network the
 * blocks are checked on.
 */
export interface VerifiedTransfers {
  has(txid: string): boolean;
}

/** Proof of work of a header: valid bits no easier than powLimit, and hash ≤ target. */
export function checkProofOfWork(header: BlockHeader, params: NetworkParams): Verdict {
  const target = targetFromBits(header.bits, params.powLimit);
  if (target === undefined) return reject('bad-bits', `bits 0x${header.bits.toString(16)} are invalid or easier than the network's limit`);
  if (!hashMeetsTarget(headerHash(header), target)) return reject('high-hash', 'header hash is above its target');
  return OK;
}

/**
 * Context-free checks of a block (Bitcoin's `CheckBlock`): version, proof of
 * work, size and count limits, the coinbase first and only there, no
 * duplicate transactions (closes CVE-2012-2459), merkle root, and every
 * transfer's amounts and signature. The signature of a transfer that
 * `verified` holds is not checked again (its amounts are); the verdict is
 * the same as without `verified` as long as that set keeps its contract.
 * `ids` are the block's transaction ids when the caller has them already.
 * Every structural rule and every amount is checked before any signature
 * ({@link checkBlockStructure}, then {@link transfersToVerify}), so callers
 * that verify signatures elsewhere (in worker threads) reach the same verdict.
 */
export function checkBlock(block: Block, params: NetworkParams, networkId: Uint8Array, verified?: VerifiedTransfers, ids: BlockTxIds = blockTxIds(block)): Verdict {
  const structure = checkBlockStructure(block, params, ids);
  if (!structure.ok) return structure;
  for (const i of transfersToVerify(block, ids, verified)) {
    if (!verifyTransferSignature(block.txs[i] as TransferTx, networkId)) return badSignature(i);
  }
  return OK;
}

/** {@link checkBlock} without the signatures: every other rule, amounts of every transfer included. */
export function checkBlockStructure(block: Block, params: NetworkParams, ids: BlockTxIds = blockTxIds(block)): Verdict {
  const { header, txs } = block;
  if (header.version !== BLOCK_VERSION) return reject('bad-version', `block version ${header.version}, expected ${BLOCK_VERSION}`);
  const pow = checkProofOfWork(header, params);
  if (!pow.ok) return pow;
  if (txs.length === 0) return reject('bad-coinbase-missing', 'block has no transactions');
  if (txs.length > MAX_BLOCK_TXS) return reject('bad-tx-count', `block has ${txs.length} transactions, limit ${MAX_BLOCK_TXS}`);
  const size = blockSize(block);
  if (size > MAX_BLOCK_BYTES) return reject('bad-block-size', `block is ${size} bytes, limit ${MAX_BLOCK_BYTES}`);
  if (txs[0]!.type !== 'coinbase') return reject('bad-coinbase-missing', 'first transaction is not a coinbase');
  if (ids.ids.length !== txs.length) throw new RangeError(`${ids.ids.length} transaction ids for ${txs.length} transactions`);
  const seen = new Set<string>();
  for (const id of ids.ids) {
    if (seen.has(id)) return reject('duplicate-tx', `transaction ${id} appears twice`);
    seen.add(id);
  }
  if (!bytesEqual(merkleRoot(ids.hashes), header.merkleRoot)) {
    return reject('bad-merkle-root', 'merkle root does not match the transactions');
  }
  for (let i = 1; i < txs.length; i++) {
    const tx = txs[i]!;
    if (tx.type !== 'transfer') return reject('bad-coinbase-position', `transaction ${i} is a second coinbase`);
    const v = checkTransferAmounts(tx);
    if (!v.ok) return { ...v, reason: `transaction ${i}: ${v.reason}` };
  }
  return OK;
}

/** Indexes of the transfers of a structurally valid block whose signatures `verified` does not already vouch for, ascending. */
export function transfersToVerify(block: Block, ids: BlockTxIds, verified?: VerifiedTransfers): number[] {
  const out: number[] = [];
  for (let i = 1; i < block.txs.length; i++) if (!verified?.has(ids.ids[i]!)) out.push(i);
  return out;
}

/** What contextual checks need to know about the chain a header extends. */
export interface ChainContext {
  /** Height of the new block. */
  height: number;
  /** Compact bits the new block must carry ({@link nextBits}). */
  expectedBits: number;
  /** Median time past of the parent ({@link medianTimePast}), seconds. */
  medianTimePast: number;
  /** Time of the parent block, seconds (for the timewarp rule). */
  prevTime: number;
  /** The local clock, seconds since the epoch. */
  now: number;
}

/**
 * Contextual header checks (Bitcoin's `ContextualCheckBlockHeader`): bits,
 * time after the median time past, BIP 94's timewarp rule on the first
 * block of a retarget window, time not too far ahead of the local clock.
 */
export function checkHeaderContext(header: BlockHeader, ctx: ChainContext, params: NetworkParams): Verdict {
  if (header.bits !== ctx.expectedBits) {
    return reject('bad-diffbits', `bits 0x${header.bits.toString(16)}, expected 0x${ctx.expectedBits.toString(16)} at height ${ctx.height}`);
  }
  if (header.time <= ctx.medianTimePast) {
    return reject('time-too-old', `time ${header.time} is not after the median time past ${ctx.medianTimePast}`);
  }
  if (header.time < minTimeForTimewarp(ctx.height, ctx.prevTime, params)) {
    return reject('bad-timewarp', `time ${header.time} of the first block of a retarget window is more than ${params.maxTimewarpSeconds} s before its parent's ${ctx.prevTime}`);
  }
  if (header.time > ctx.now + params.maxFutureSeconds) {
    return reject('time-too-new', `time ${header.time} is more than ${params.maxFutureSeconds} s ahead of the local clock`);
  }
  return OK;
}

/**
 * Applies a block to `overlay` (Bitcoin's `ConnectBlock` for the account
 * model): first the coinbase that matures at this height (`matured`, the
 * coinbase of block `height - params.coinbaseMaturity` on the same branch,
 * required from that height on) is credited to its recipient; then the
 * transfers apply in block order. The block's own coinbase must be first
 * and only there, carry the block's height and pay at most reward + fees;
 * it is credited only when it matures. The coinbase position is checked
 * here too, not only by {@link checkBlock}, so that no caller can mint a
 * second coinbase's amount. On rejection the overlay must be discarded.
 * @throws RangeError when `matured` is missing or of another height (a
 *   caller's bug, not bad data).
 */
export function connectTransactions(block: Block, height: number, overlay: AccountOverlay, params: NetworkParams, matured?: CoinbaseTx): Verdict {
  const coinbase = block.txs[0];
  if (!coinbase || coinbase.type !== 'coinbase') return reject('bad-coinbase-missing', 'first transaction is not a coinbase');
  if (coinbase.height !== height) return reject('bad-coinbase-height', `coinbase height ${coinbase.height}, block height ${height}`);
  const maturedHeight = height - params.coinbaseMaturity;
  if (maturedHeight >= 1) {
    if (!matured || matured.height !== maturedHeight) throw new RangeError(`connecting height ${height} needs the coinbase of height ${maturedHeight}`);
    const credited = overlay.credit(matured.recipient, matured.amount);
    if (!credited.ok) return credited;
  }
  let fees = 0n;
  for (let i = 1; i < block.txs.length; i++) {
    const tx = block.txs[i]!;
    if (tx.type !== 'transfer') return reject('bad-coinbase-position', `transaction ${i} is a second coinbase`);
    const v = overlay.apply(tx);
    if (!v.ok) return { ...v, reason: `transaction ${i}: ${v.reason}` };
    fees += tx.fee;
  }
  const allowed = blockReward(params, height) + fees;
  if (coinbase.amount > allowed) return reject('bad-coinbase-amount', `coinbase pays ${coinbase.amount}, at most ${allowed} allowed`);
  return OK;
}

/**
 * Earliest time the block at `height` may carry under BIP 94's timewarp rule:
 * on the first block of a retarget window, its parent's time minus
 * `maxTimewarpSeconds`; 0 (no bound) elsewhere and on networks without
 * retargets.
 */
export function minTimeForTimewarp(height: number, prevTime: number, params: NetworkParams): number {
  if (params.noRetarget || params.asertHalfLifeSeconds !== undefined || height % params.retargetInterval !== 0) return 0;
  return prevTime - params.maxTimewarpSeconds;
}

/** Minimal view of an indexed header, for difficulty and time rules. */
export interface HeaderLike {
  height: number;
  header: BlockHeader;
}

/**
 * Median of the times of up to {@link MEDIAN_TIME_SPAN} blocks ending at
 * `tip` (BIP 113). `ancestor(h)` returns the block at height h on tip's chain.
 */
export function medianTimePast(tip: HeaderLike, ancestor: (height: number) => HeaderLike | undefined): number {
  const times: number[] = [];
  for (let h = tip.height; h >= 0 && times.length < MEDIAN_TIME_SPAN; h--) {
    const e = h === tip.height ? tip : ancestor(h);
    if (!e) break;
    times.push(e.header.time);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * Bits required of the block after `prev`. On networks with
 * `asertHalfLifeSeconds` (devnet), ASERT ({@link asertTarget}) anchored at
 * block 1: block 1 carries the genesis bits, every later block the target
 * from block 1's bits, the time `prev` is behind or ahead of the schedule
 * `block1.time + blockTimeSeconds × (prev.height − 1)`, and the half-life.
 * Genesis, whose time is fixed in advance, is not the anchor. Elsewhere
 * Bitcoin's retarget on this network's interval: unchanged except at multiples of `retargetInterval`,
 * where the target scales by the time the window actually took over the
 * time it should have taken, clamped to a factor of 4, never easier than
 * powLimit. The window is the full interval: from the last block of the
 * previous window to `prev`, `retargetInterval` gaps (Bitcoin measures one
 * gap fewer, its off-by-one, and its windows do not overlap, which is what
 * the timewarp attack uses). Genesis, whose time is fixed in advance, is
 * never the start of a window: the first window starts at block 1 and its
 * intended time counts its gaps.
 */
export function nextBits(prev: HeaderLike, ancestor: (height: number) => HeaderLike | undefined, params: NetworkParams): number {
  const height = prev.height + 1;
  if (params.noRetarget) return prev.header.bits;
  if (params.asertHalfLifeSeconds !== undefined) {
    const anchor = prev.height <= 1 ? prev : ancestor(1);
    if (prev.height === 0 || !anchor) return prev.header.bits;
    const target = asertTarget(decodeCompact(anchor.header.bits).target, prev.header.time - anchor.header.time, prev.height - anchor.height, params.blockTimeSeconds, params.asertHalfLifeSeconds, params.powLimit);
    return encodeCompact(target);
  }
  if (height % params.retargetInterval !== 0) return prev.header.bits;
  const first = ancestor(Math.max(1, height - params.retargetInterval - 1));
  if (!first || first.height >= prev.height) return prev.header.bits;
  const timespan = BigInt((prev.height - first.height) * params.blockTimeSeconds);
  let actual = BigInt(prev.header.time - first.header.time);
  if (actual < timespan / 4n) actual = timespan / 4n;
  if (actual > timespan * 4n) actual = timespan * 4n;
  let target = (decodeCompact(prev.header.bits).target * actual) / timespan;
  if (target > params.powLimit) target = params.powLimit;
  return encodeCompact(target);
}
