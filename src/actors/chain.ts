import type { Block, BlockTxIds } from '../core/block.js';
import { blockHash, blockTxIds } from '../core/block.js';
import type { TransferTx } from '../core/transaction.js';
import type { SignatureVerifier } from '../workers/verify-pool.js';
import { hashFromHex, hashToHex } from '../core/hash.js';
import type { NetworkParams } from '../core/params.js';
import { workFromBits } from '../core/pow.js';
import { reject, type RejectCode, type Rejection, type Verdict } from '../core/reject.js';
import { AccountOverlay, type Account, type AccountReader } from '../core/state.js';
import { badSignature, checkBlockStructure, checkHeaderContext, transfersToVerify, verifyTransferSignature, connectTransactions, medianTimePast, minTimeForTimewarp, nextBits, type HeaderLike, type VerifiedTransfers } from '../core/validation.js';
import { blockSize } from '../core/block.js';
import type { CoinbaseTx } from '../core/transaction.js';
import { LOCAL_SOURCE, OrphanPool, type OrphanPoolInit } from './orphan-pool.js';
import type { EventBus } from './events.js';
import type { BlockConnect, BlockIndexEntry, BlockStore, ChainTip } from '../store/block-store.js';
import type { Actor } from './runtime/actor.js';
import { Reply } from './runtime/actor.js';
import { assertNever } from '../core/reject.js';
import { MAX_LOCATOR_HASHES } from '../transport/limits.js';
import { systemClock, unixSeconds, type Clock } from '../core/clock.js';

/**
 * Most txids remembered as signature-verified (Bitcoin Core's signature
 * cache, 32 MiB by default); twice the default mempool, about 15 MB.
 */
export const MAX_VERIFIED_TRANSFERS = 100_000;

/**
 * A bounded set of txids whose signatures this node's mempool verified,
 * oldest forgotten first: what `checkBlock` may skip (see
 * {@link VerifiedTransfers}).
 */
export class VerifiedTransferCache implements VerifiedTransfers {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number = MAX_VERIFIED_TRANSFERS) {}
  add(txid: string): void {
    if (this.ids.has(txid)) return;
    this.ids.add(txid);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
  has(txid: string): boolean {
    return this.ids.has(txid);
  }
  get size(): number {
    return this.ids.size;
  }
}

/** Outcome of submitting a block. */
export type SubmitBlockResult =
  | { status: 'connected'; hash: string; height: number }
  | { status: 'reorg'; hash: string; height: number; depth: number }
  | { status: 'side-branch'; hash: string; height: number }
  | { status: 'orphan'; hash: string; missing: string }
  | { status: 'duplicate'; hash: string }
  | { status: 'invalid'; hash: string; code: RejectCode; reason: string };

/** What a miner needs to build the next block on the tip. */
export interface NextBlockContext {
  prevHash: Uint8Array;
  height: number;
  bits: number;
  medianTimePast: number;
  /** Earliest valid header time, seconds: after the median time past and, on a window's first block, within BIP 94's timewarp bound. */
  minTime: number;
}

/**
 * Codes of `checkBlock` failures that a malleated copy of a valid block can
 * produce under the same hash (the header commits to the merkle root, and
 * CVE-2012-2459 gives two transaction lists one root): such a block is
 * refused but its hash is never recorded as invalid, or a peer could get
 * the real block refused (Bitcoin Core's `CorruptionPossible`).
 */
const MALLEABLE_CODES: ReadonlySet<RejectCode> = new Set<RejectCode>(['malformed', 'bad-merkle-root', 'duplicate-tx', 'bad-block-size', 'bad-tx-count', 'bad-coinbase-missing']);

/** Messages of the chain actor. */
/** Events the chain actor publishes on the node's bus, after the change is durable in the store. */
export type ChainEvent =
  /** `ids`: the block's transaction ids when the chain had them at hand. */
  | { type: 'block-connected'; block: Block; entry: BlockIndexEntry; ids?: BlockTxIds }
  | { type: 'block-disconnected'; block: Block; entry: BlockIndexEntry }
  | { type: 'tip-changed'; tip: ChainTip; previous: ChainTip; reorgDepth: number }
  | { type: 'block-rejected'; hash: string; code: RejectCode; reason: string; source?: string };

/** One block of `chain/submit-blocks`: `ids` and `requested` as in `chain/submit-block`. */
export interface SubmittedBlock {
  block: Block;
  ids?: BlockTxIds;
  requested?: boolean;
}

export type ChainMsg =
  /**
   * A block from a peer, the API or the miner. `requested`: the node asked
   * for it (an announcement it fetched, a sync); an unrequested block on a
   * side branch is stored only when its chain has at least the tip's work
   * and the network's minimum chain work. `ids`: the block's transaction ids
   * when the sender computed them already (they are not computed again).
   */
  | { type: 'chain/submit-block'; block: Block; ids?: BlockTxIds; source?: string; requested?: boolean; reply?: Reply<SubmitBlockResult> }
  /**
   * Several blocks from one source (fast sync): a run of them extending the
   * tip is checked together (signatures of all in one verifier batch) and
   * connected in one store transaction; the others as `chain/submit-block`
   * with their own `requested`. One result per block, in order.
   */
  | { type: 'chain/submit-blocks'; blocks: SubmittedBlock[]; source?: string; reply?: Reply<SubmitBlockResult[]> }
  | { type: 'chain/get-blocks'; hashes: string[]; reply: Reply<Array<Block | undefined>> }
  | { type: 'chain/get-tip'; reply: Reply<ChainTip> }
  | { type: 'chain/next-block-context'; reply: Reply<NextBlockContext> }
  | { type: 'chain/get-block'; hash: string; reply: Reply<{ block: Block; entry: BlockIndexEntry; mainChain: boolean } | undefined> }
  | { type: 'chain/get-locator'; reply: Reply<string[]> }
  | { type: 'chain/hashes-after'; locator: string[]; stop?: string; limit: number; reply: Reply<string[]> }
  | { type: 'chain/has-block'; hash: string; reply: Reply<boolean> };

interface IndexNode extends BlockIndexEntry {
  parent: IndexNode | undefined;
  invalid: boolean;
  /** Why the block is invalid: its own failure, or `bad-prev` naming the invalid ancestor. */
  failure?: Rejection;
  /** Arrival order: among branches of equal work the first received wins (Bitcoin's `nSequenceId`). */
  sequence: number;
}

export interface ChainActorDeps {
  params: NetworkParams;
  networkId: Uint8Array;
  store: BlockStore;
  bus: EventBus;
  /** Checks blocks' signatures off the actor's thread (worker threads); without it they are checked in place. */
  verifier?: SignatureVerifier;
  /** Clock in seconds since the epoch. */
  /** The clock header times are checked against. @default systemClock */
  clock?: Clock;
  /** Bounds of the orphan pool (defaults in `orphan-pool.ts`). */
  orphans?: OrphanPoolInit;
}

/**
 * The chain actor: validates blocks, keeps the block index, chooses the tip by
 * cumulative work and reorganises onto a heavier branch; every connect or
 * disconnect is one store transaction. Blocks whose parent is unknown wait in
 * a bounded orphan pool. Transfers the node's mempool accepted (its
 * `tx-accepted` events, published only after `checkTransfer` passed on this
 * network) are remembered in a {@link VerifiedTransferCache}, so a block made
 * of them is not verified signature by signature a second time.
 */
export class ChainActor implements Actor<ChainMsg> {
  private readonly index = new Map<string, IndexNode>();
  private tip!: IndexNode;
  /** Leaves (no known child) that are not invalid: candidates for the best chain. */
  private readonly leaves = new Set<IndexNode>();
  private readonly orphans: OrphanPool;
  /** Blocks found invalid (hash → reject code), loaded from and written to the store. */
  private readonly invalidBlocks = new Map<string, RejectCode>();
  private readonly clock: Clock;
  private sequence = 0;
  private readonly verified = new VerifiedTransferCache();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: ChainActorDeps) {
    this.clock = deps.clock ?? systemClock;
    this.orphans = new OrphanPool(deps.orphans);
  }

  async start(): Promise<void> {
    const { store } = this.deps;
    this.unsubscribe = this.deps.bus.on('tx-accepted', (e) => this.verified.add(e.txid));
    for (const { hash, code } of store.invalidBlocks()) this.invalidBlocks.set(hash, code as RejectCode);
    const pending = new Map<string, BlockIndexEntry>();
    for (const e of store.entries()) pending.set(e.hash, e);
    const sorted = [...pending.values()].sort((a, b) => a.height - b.height);
    for (const e of sorted) {
      const parent = this.index.get(hashToHex(e.header.prevHash));
      // Invalid status survives a restart: a failed reorg is not replayed.
      const code = this.invalidBlocks.get(e.hash);
      const invalid = code !== undefined || (parent?.invalid ?? false);
      const failure = code !== undefined ? reject(code, 'recorded as invalid in the store') : parent?.invalid ? reject('bad-prev', `ancestor ${parent.hash} is invalid`) : undefined;
      const node: IndexNode = { ...e, parent, invalid, failure, sequence: this.sequence++ };
      this.index.set(e.hash, node);
      if (parent) this.leaves.delete(parent);
      this.leaves.add(node);
    }
    const tip = store.getTip();
    const tipNode = this.index.get(tip.hash);
    if (!tipNode) throw new Error(`store tip ${tip.hash} has no index entry`);
    this.tip = tipNode;
    // A crash between the steps of a reorg leaves a heavier branch stored but not connected.
    await this.activateBestChain();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  async receive(msg: ChainMsg): Promise<void> {
    switch (msg.type) {
      case 'chain/submit-block': {
        const result = await this.submitBlock(msg.block, msg.source, msg.requested ?? false, msg.ids);
        msg.reply?.resolve(result);
        return;
      }
      case 'chain/submit-blocks': {
        const results = await this.submitBlocks(msg.blocks, msg.source);
        msg.reply?.resolve(results);
        return;
      }
      case 'chain/get-blocks':
        msg.reply.resolve(msg.hashes.map((h) => (this.index.has(h) ? this.deps.store.getBlock(h) : undefined)));
        return;
      case 'chain/get-tip':
        msg.reply.resolve(this.tipView());
        return;
      case 'chain/next-block-context': {
        const mtp = medianTimePast(this.tip, (h) => this.ancestor(this.tip, h));
        msg.reply.resolve({
          prevHash: hashFromHex(this.tip.hash),
          height: this.tip.height + 1,
          bits: nextBits(this.tip, (h) => this.ancestor(this.tip, h), this.deps.params),
          medianTimePast: mtp,
          minTime: Math.max(mtp + 1, minTimeForTimewarp(this.tip.height + 1, this.tip.header.time, this.deps.params)),
        });
        return;
      }
      case 'chain/get-block': {
        const node = this.index.get(msg.hash);
        const block = node && this.deps.store.getBlock(msg.hash);
        msg.reply.resolve(node && block ? { block, entry: stripNode(node), mainChain: this.isMain(node) } : undefined);
        return;
      }
      case 'chain/get-locator':
        msg.reply.resolve(this.locator());
        return;
      case 'chain/hashes-after':
        msg.reply.resolve(this.hashesAfter(msg.locator, msg.stop, msg.limit));
        return;
      case 'chain/has-block':
        msg.reply.resolve(this.index.has(msg.hash) || this.orphans.has(msg.hash) || this.invalidBlocks.has(msg.hash));
        return;
      default:
        assertNever(msg);
    }
  }

  private tipView(): ChainTip {
    return { hash: this.tip.hash, height: this.tip.height, chainWork: this.tip.chainWork };
  }

  private isMain(node: IndexNode): boolean {
    return this.deps.store.getHashAtHeight(node.height) === node.hash;
  }

  /**
   * The ancestor of `from` at `height`: parent links are walked only down to
   * the main chain, and from there the store's height index answers, so a
   * side branch costs its own length, not its height (devnet's ASERT asks
   * for block 1 at every block).
   */
  private ancestor(from: IndexNode, height: number): IndexNode | undefined {
    if (height > from.height || height < 0) return undefined;
    let n: IndexNode | undefined = from;
    while (n && n.height > height) {
      if (this.isMain(n)) {
        const h = this.deps.store.getHashAtHeight(height);
        return h === undefined ? undefined : this.index.get(h);
      }
      n = n.parent;
    }
    return n;
  }

  /** Block locator of the main chain: the last 10 hashes, then exponentially sparser, genesis last (Bitcoin's `GetLocator`). */
  private locator(): string[] {
    const out: string[] = [];
    let step = 1;
    for (let h = this.tip.height; h > 0 && out.length < MAX_LOCATOR_HASHES - 1; h -= step) {
      out.push(this.deps.store.getHashAtHeight(h)!);
      if (out.length >= 10) step *= 2;
    }
    out.push(this.deps.store.getHashAtHeight(0)!);
    return out;
  }

  /** Main-chain hashes after the first locator hash found on the main chain, ascending, up to `limit` or `stop`. */
  private hashesAfter(locator: string[], stop: string | undefined, limit: number): string[] {
    let fork = 0;
    for (const h of locator) {
      const node = this.index.get(h);
      if (node && this.isMain(node)) {
        fork = node.height;
        break;
      }
    }
    const out: string[] = [];
    for (let h = fork + 1; h <= this.tip.height && out.length < limit; h++) {
      const hash = this.deps.store.getHashAtHeight(h)!;
      out.push(hash);
      if (hash === stop) break;
    }
    return out;
  }

  private async submitBlock(block: Block, source: string | undefined, requested: boolean, ids?: BlockTxIds): Promise<SubmitBlockResult> {
    const first = await this.acceptBlock(block, source, requested, ids);
    if (first.status === 'connected' || first.status === 'reorg' || first.status === 'side-branch') {
      await this.connectOrphansOf(first.hash);
    }
    return first;
  }

  private async connectOrphansOf(hash: string): Promise<void> {
    const queue = [hash];
    while (queue.length > 0) {
      const parent = queue.shift()!;
      for (const child of this.orphans.takeChildrenOf(parent)) {
        const source = child.source === LOCAL_SOURCE ? undefined : child.source;
        const r = await this.acceptBlock(child.block, source, child.requested);
        if (r.status === 'connected' || r.status === 'reorg' || r.status === 'side-branch') queue.push(r.hash);
      }
    }
  }

  private invalid(hash: string, v: Verdict & { ok: false }, source?: string): SubmitBlockResult {
    this.deps.bus.publish({ type: 'block-rejected', hash, code: v.code, reason: v.reason, source });
    return { status: 'invalid', hash, code: v.code, reason: v.reason };
  }

  /**
   * The signatures of the block's transfers that the signature cache does not
   * hold, checked by the verifier (worker threads) when there is one.
   */
  private async checkSignatures(block: Block, ids: BlockTxIds): Promise<Verdict> {
    const indexes = transfersToVerify(block, ids, this.verified);
    if (indexes.length === 0) return { ok: true };
    const txs = indexes.map((i) => block.txs[i] as TransferTx);
    const { verifier, networkId } = this.deps;
    const ok = verifier ? await verifier.verify(txs, indexes.map((i) => ids.ids[i]!)) : txs.map((tx) => verifyTransferSignature(tx, networkId));
    const bad = ok.indexOf(false);
    return bad < 0 ? { ok: true } : badSignature(indexes[bad]);
  }


  /** Refuses a block whose hash commits to its failure and records it in the store, so that it is refused cheaply from then on. */
  private async invalidAndRemember(hash: string, v: Verdict & { ok: false }, source?: string): Promise<SubmitBlockResult> {
    this.invalidBlocks.set(hash, v.code);
    await this.deps.store.markInvalid([{ hash, code: v.code }]);
    return this.invalid(hash, v, source);
  }

  /** The last checkpoint of the network at or below the tip's height, if any. */
  private lastCheckpointHeight(): number {
    let last = -1;
    for (const h of this.deps.params.checkpoints.keys()) if (h <= this.tip.height && h > last) last = h;
    return last;
  }

  /**
   * Bitcoin Core's `AcceptBlock` for one block: the cheap refusals first
   * (known, known invalid, orphan), then proof of work and structure, then
   * the signatures (worker threads), then the context of its parent; a block extending the tip connects, one on a
   * side branch is stored (if it may be, see {@link ChainMsg}) and may
   * trigger a reorg.
   */
  private async acceptBlock(block: Block, source: string | undefined, requested: boolean, givenIds?: BlockTxIds): Promise<SubmitBlockResult> {
    const { params, networkId, store } = this.deps;
    const hash = hashToHex(blockHash(block));
    const cached = this.invalidBlocks.get(hash);
    if (cached) return this.invalid(hash, reject('duplicate-invalid', `block is known to be invalid (${cached})`), source);
    const known = this.index.get(hash);
    if (known) {
      // Refused from the index alone, without validating the same bytes again (Bitcoin Core's BLOCK_CACHED_INVALID).
      return known.invalid ? this.invalid(hash, reject('duplicate-invalid', `block is known to be invalid (${known.failure?.code ?? 'bad-prev'})`), source) : { status: 'duplicate', hash };
    }
    if (this.orphans.has(hash)) return { status: 'duplicate', hash };
    const ids = givenIds ?? blockTxIds(block);
    const structural = checkBlockStructure(block, params, ids);
    if (!structural.ok) {
      return MALLEABLE_CODES.has(structural.code) ? this.invalid(hash, structural, source) : this.invalidAndRemember(hash, structural, source);
    }
    const signatures = await this.checkSignatures(block, ids);
    if (!signatures.ok) return this.invalidAndRemember(hash, signatures, source);
    const prevHex = hashToHex(block.header.prevHash);
    const parent = this.index.get(prevHex);
    if (!parent) {
      if (this.invalidBlocks.has(prevHex)) return this.invalidAndRemember(hash, reject('bad-prev', `parent ${prevHex} is invalid`), source);
      const added = this.orphans.add({ hash, prevHash: prevHex, block, size: blockSize(block), source: source ?? LOCAL_SOURCE, requested });
      if (!added.added) return this.invalid(hash, reject('orphan-pool-full', added.reason), source);
      return { status: 'orphan', hash, missing: prevHex };
    }
    if (parent.invalid) return this.invalidAndRemember(hash, reject('bad-prev', `parent ${prevHex} is invalid`), source);
    const height = parent.height + 1;
    const checkpoint = params.checkpoints.get(height);
    if (checkpoint !== undefined && checkpoint !== hash) {
      return this.invalidAndRemember(hash, reject('checkpoint', `block at height ${height} is not the checkpoint ${checkpoint}`), source);
    }
    if (height <= this.lastCheckpointHeight()) {
      return this.invalid(hash, reject('checkpoint', `block forks at height ${height}, below the last checkpoint`), source);
    }
    const ancestor = (h: number): HeaderLike | undefined => this.ancestor(parent, h);
    const ctx = checkHeaderContext(
      block.header,
      {
        height,
        expectedBits: nextBits(parent, ancestor, params),
        medianTimePast: medianTimePast(parent, ancestor),
        prevTime: parent.header.time,
        now: unixSeconds(this.clock),
      },
      params,
    );
    // A block from the future may become valid later: refused, never recorded (Core's BLOCK_TIME_FUTURE).
    if (!ctx.ok) return ctx.code === 'time-too-new' ? this.invalid(hash, ctx, source) : this.invalidAndRemember(hash, ctx, source);
    const node: IndexNode = {
      hash,
      header: block.header,
      height,
      chainWork: parent.chainWork + workFromBits(block.header.bits),
      parent,
      invalid: false,
      sequence: this.sequence++,
    };
    if (parent === this.tip) {
      const v = await this.connectTip(node, block, ids);
      // The same bytes sent again are refused before any signature is checked.
      if (!v.ok) return this.invalidAndRemember(hash, v, source);
      this.addToIndex(node);
      return { status: 'connected', hash, height: node.height };
    }
    // A side branch costs disk at every node and a reload at every start: only when it could become the chain, or was asked for.
    if (!requested && node.chainWork < this.tip.chainWork) {
      return this.invalid(hash, reject('too-little-chainwork', `unrequested side-branch block with chain work ${node.chainWork}, below the tip's ${this.tip.chainWork}`), source);
    }
    if (!requested && node.chainWork < params.minimumChainWork) {
      return this.invalid(hash, reject('too-little-chainwork', `unrequested side-branch block with chain work ${node.chainWork}, below the network's minimum ${params.minimumChainWork}`), source);
    }
    await store.putBlock(stripNode(node), block);
    this.addToIndex(node);
    if (node.chainWork > this.tip.chainWork) {
      const before = this.tip;
      await this.activateBestChain();
      if (node.invalid) return this.invalid(hash, node.failure ?? reject('bad-prev', 'an ancestor failed to connect during the reorg'), source);
      if (this.tip !== before && this.isMain(node)) {
        const depth = before.height - this.forkPoint(before, node).height;
        return { status: 'reorg', hash, height: node.height, depth };
      }
    }
    return { status: 'side-branch', hash, height: node.height };
  }

  private addToIndex(node: IndexNode): void {
    this.index.set(node.hash, node);
    if (node.parent) this.leaves.delete(node.parent);
    this.leaves.add(node);
  }

  /** Connects on the tip and announces the new tip. */
  private async connectTip(node: IndexNode, block: Block, ids?: BlockTxIds): Promise<Verdict> {
    const previous = this.tipView();
    const v = await this.connectTipQuiet(node, block, ids);
    if (v.ok) this.deps.bus.publish({ type: 'tip-changed', tip: this.tipView(), previous, reorgDepth: 0 });
    return v;
  }

  private forkPoint(a: IndexNode, b: IndexNode): IndexNode {
    let x: IndexNode | undefined = a;
    let y: IndexNode | undefined = b;
    while (x && y && x !== y) {
      if (x.height > y.height) x = x.parent;
      else if (y.height > x.height) y = y.parent;
      else {
        x = x.parent;
        y = y.parent;
      }
    }
    if (!x || !y) throw new Error('blocks share no ancestor');
    return x;
  }

  /** The valid leaf that beats the tip: more work, or equal work and received earlier. */
  private bestCandidate(): IndexNode | undefined {
    const beats = (a: IndexNode, b: IndexNode): boolean => a.chainWork > b.chainWork || (a.chainWork === b.chainWork && a.sequence < b.sequence);
    let best: IndexNode | undefined;
    for (const leaf of this.leaves) {
      if (leaf.invalid || leaf === this.tip) continue;
      if (beats(leaf, this.tip) && (!best || beats(leaf, best))) best = leaf;
    }
    return best;
  }

  /**
   * Moves the tip to the valid branch of most cumulative work: disconnects
   * back to the fork point, then connects the branch block by block; a block
   * that fails marks itself and its descendants invalid and the search
   * repeats (Bitcoin's `ActivateBestChain`).
   */
  private async activateBestChain(): Promise<void> {
    for (let target = this.bestCandidate(); target; target = this.bestCandidate()) {
      const start = this.tipView();
      const fork = this.forkPoint(this.tip, target);
      let depth = 0;
      while (this.tip !== fork) {
        const node = this.tip;
        const block = this.deps.store.getBlock(node.hash);
        if (!block) throw new Error(`block ${node.hash} of the main chain is missing from the store`);
        await this.deps.store.disconnectTip();
        this.tip = node.parent!;
        depth++;
        this.deps.bus.publish({ type: 'block-disconnected', block, entry: stripNode(node) });
      }
      const path: IndexNode[] = [];
      for (let n: IndexNode | undefined = target; n && n !== fork; n = n.parent) path.push(n);
      path.reverse();
      for (const node of path) {
        const block = this.deps.store.getBlock(node.hash);
        // The index says the body was stored: its absence is a fault of this node's store, never of a peer.
        if (!block) throw new Error(`block ${node.hash} at height ${node.height} is indexed but its body is missing from the store`);
        const v: Verdict = await this.connectTipQuiet(node, block);
        if (!v.ok) {
          await this.markInvalid(node, v);
          this.deps.bus.publish({ type: 'block-rejected', hash: node.hash, code: v.code, reason: v.reason });
          break;
        }
      }
      if (this.tip.hash !== start.hash) {
        this.deps.bus.publish({ type: 'tip-changed', tip: this.tipView(), previous: start, reorgDepth: depth });
      }
    }
  }

  /** Applies the block's transactions on the tip's state and writes it in one store transaction. */
  private async connectTipQuiet(node: IndexNode, block: Block, ids?: BlockTxIds): Promise<Verdict> {
    const overlay = new AccountOverlay(this.deps.store);
    const v = connectTransactions(block, node.height, overlay, this.deps.params, this.maturedCoinbase(node.height));
    if (!v.ok) return v;
    await this.deps.store.connectBlock(stripNode(node), block, overlay.changed, overlay.previous, ids?.ids);
    this.tip = node;
    this.deps.bus.publish({ type: 'block-connected', block, entry: stripNode(node), ids });
    return { ok: true };
  }

  /**
   * The coinbase that matures when the block at `height` connects on the
   * tip: the coinbase of the main-chain block `height - coinbaseMaturity`
   * (undefined before the first one matures).
   */
  private maturedCoinbase(height: number): CoinbaseTx | undefined {
    const h = height - this.deps.params.coinbaseMaturity;
    if (h < 1) return undefined;
    const hash = this.deps.store.getHashAtHeight(h);
    const cb = hash === undefined ? undefined : this.deps.store.getBlock(hash)?.txs[0];
    if (!cb || cb.type !== 'coinbase') throw new Error(`main-chain block at height ${h} is missing or has no coinbase`);
    return cb;
  }

  /** Splits `items` into runs that extend the tip one after the other (connected as batches) and single blocks. */
  private async submitBlocks(items: SubmittedBlock[], source?: string): Promise<SubmitBlockResult[]> {
    const results: SubmitBlockResult[] = [];
    let i = 0;
    while (i < items.length) {
      let prev = this.tip.hash;
      let n = 0;
      const hashes: string[] = [];
      while (i + n < items.length) {
        const b = items[i + n]!.block;
        const hash = hashToHex(blockHash(b));
        if (hashToHex(b.header.prevHash) !== prev || this.index.has(hash) || this.orphans.has(hash) || this.invalidBlocks.has(hash)) break;
        hashes.push(hash);
        prev = hash;
        n++;
      }
      if (n >= 2) {
        results.push(...(await this.connectRun(items.slice(i, i + n), hashes, source)));
        i += n;
      } else {
        results.push(await this.submitBlock(items[i]!.block, source, items[i]!.requested ?? false, items[i]!.ids));
        i++;
      }
    }
    return results;
  }

  /**
   * Connects a run of blocks, each extending the one before and the first the
   * tip, as one store transaction (fast sync): every block's structure,
   * checkpoint and header context first, then the signatures of all of them
   * in one verifier batch (parallel on every core), then their transactions
   * on one view of the accounts that reads each account once per block, then
   * `connectBlocks`. The same rules as {@link acceptBlock}, and the same
   * failures are recorded as invalid. A block that fails ends the run: the
   * blocks before it are connected, it is invalid and the blocks after it go
   * through {@link submitBlock} (refused as children of an invalid block).
   */
  private async connectRun(items: SubmittedBlock[], hashes: string[], source?: string): Promise<SubmitBlockResult[]> {
    const { params, store } = this.deps;
    const nodes: IndexNode[] = [];
    const allIds: BlockTxIds[] = [];
    let failure: { at: number; verdict: Rejection; remember: boolean } | undefined;
    let parent = this.tip;
    for (let k = 0; k < items.length; k++) {
      const { block } = items[k]!;
      const hash = hashes[k]!;
      const ids = items[k]!.ids ?? blockTxIds(block);
      const structural = checkBlockStructure(block, params, ids);
      if (!structural.ok) {
        failure = { at: k, verdict: structural, remember: !MALLEABLE_CODES.has(structural.code) };
        break;
      }
      const p = parent;
      const height = p.height + 1;
      const checkpoint = params.checkpoints.get(height);
      if (checkpoint !== undefined && checkpoint !== hash) {
        failure = { at: k, verdict: reject('checkpoint', `block at height ${height} is not the checkpoint ${checkpoint}`), remember: true };
        break;
      }
      const ancestor = (h: number): HeaderLike | undefined => this.ancestor(p, h);
      const ctx = checkHeaderContext(
        block.header,
        { height, expectedBits: nextBits(p, ancestor, params), medianTimePast: medianTimePast(p, ancestor), prevTime: p.header.time, now: unixSeconds(this.clock) },
        params,
      );
      if (!ctx.ok) {
        // A block from the future may become valid later: refused, never recorded (Core's BLOCK_TIME_FUTURE).
        failure = { at: k, verdict: ctx, remember: ctx.code !== 'time-too-new' };
        break;
      }
      const node: IndexNode = {
        hash,
        header: block.header,
        height,
        chainWork: p.chainWork + workFromBits(block.header.bits),
        parent: p,
        invalid: false,
        sequence: this.sequence++,
      };
      nodes.push(node);
      allIds.push(ids);
      parent = node;
    }
    // The signatures of every checked block in one batch.
    const wanted: Array<{ k: number; i: number }> = [];
    for (let k = 0; k < nodes.length; k++) for (const i of transfersToVerify(items[k]!.block, allIds[k]!, this.verified)) wanted.push({ k, i });
    const txs = wanted.map(({ k, i }) => items[k]!.block.txs[i] as TransferTx);
    const { verifier, networkId } = this.deps;
    const ok =
      txs.length === 0 ? [] : verifier ? await verifier.verify(txs, wanted.map(({ k, i }) => allIds[k]!.ids[i]!)) : txs.map((tx) => verifyTransferSignature(tx, networkId));
    const bad = ok.indexOf(false);
    if (bad >= 0) failure = { at: wanted[bad]!.k, verdict: badSignature(wanted[bad]!.i), remember: true };
    const good = failure ? failure.at : nodes.length;
    // Transactions, on one view of the accounts that carries each block's changes to the next.
    const view = new BatchAccounts(store);
    const connects: BlockConnect[] = [];
    const baseHeight = this.tip.height;
    for (let k = 0; k < good; k++) {
      const node = nodes[k]!;
      // The coinbase maturing here may be of a block earlier in this run, not yet in the store.
      const maturedHeight = node.height - params.coinbaseMaturity;
      const matured = maturedHeight > baseHeight ? coinbaseOf(items[maturedHeight - baseHeight - 1]!.block) : this.maturedCoinbase(node.height);
      const overlay = new AccountOverlay(view);
      const v = connectTransactions(items[k]!.block, node.height, overlay, params, matured);
      if (!v.ok) {
        failure = { at: k, verdict: v, remember: true };
        break;
      }
      view.merge(overlay.changed);
      connects.push({ entry: stripNode(node), block: items[k]!.block, changes: overlay.changed, undo: overlay.previous, txids: allIds[k]!.ids });
    }
    const previous = this.tipView();
    await store.connectBlocks(connects);
    const results: SubmitBlockResult[] = [];
    for (let k = 0; k < connects.length; k++) {
      const node = nodes[k]!;
      this.addToIndex(node);
      this.tip = node;
      this.deps.bus.publish({ type: 'block-connected', block: items[k]!.block, entry: connects[k]!.entry, ids: allIds[k] });
      results.push({ status: 'connected', hash: node.hash, height: node.height });
    }
    if (connects.length > 0) {
      this.deps.bus.publish({ type: 'tip-changed', tip: this.tipView(), previous, reorgDepth: 0 });
      await this.connectOrphansOf(this.tip.hash);
    }
    if (failure) {
      const hash = hashes[connects.length]!;
      results.push(failure.remember ? await this.invalidAndRemember(hash, failure.verdict, source) : this.invalid(hash, failure.verdict, source));
      for (let k = connects.length + 1; k < items.length; k++) results.push(await this.submitBlock(items[k]!.block, source, items[k]!.requested ?? false, items[k]!.ids));
    }
    return results;
  }

  /** Marks a block that failed and every known descendant invalid, in memory and in the store. */
  private async markInvalid(node: IndexNode, failure: Rejection): Promise<void> {
    node.invalid = true;
    node.failure = failure;
    const marked: Array<{ hash: string; code: RejectCode }> = [{ hash: node.hash, code: failure.code }];
    for (const n of this.index.values()) {
      if (n.invalid) continue;
      for (let p = n.parent; p; p = p.parent) {
        if (p === node) {
          n.invalid = true;
          n.failure = reject('bad-prev', `ancestor ${node.hash} is invalid (${failure.code})`);
          marked.push({ hash: n.hash, code: 'bad-prev' });
          break;
        }
        if (p.height < node.height) break;
      }
    }
    for (const m of marked) this.invalidBlocks.set(m.hash, m.code);
    await this.deps.store.markInvalid(marked);
  }
}

/** The accounts as a run of blocks leaves them before it is written: the run's changes so far over the store. */
class BatchAccounts implements AccountReader {
  private readonly changes = new Map<string, Account>();
  constructor(private readonly base: AccountReader) {}
  getAccount(key: string): Account | undefined {
    return this.changes.get(key) ?? this.base.getAccount(key);
  }
  merge(changed: ReadonlyMap<string, Account>): void {
    for (const [k, v] of changed) this.changes.set(k, v);
  }
}

/** The coinbase of a block that passed the structure checks (its first transaction). */
function coinbaseOf(block: Block): CoinbaseTx {
  const cb = block.txs[0];
  if (!cb || cb.type !== 'coinbase') throw new Error('a checked block has no coinbase first');
  return cb;
}

function stripNode(n: IndexNode): BlockIndexEntry {
  return { hash: n.hash, header: n.header, height: n.height, chainWork: n.chainWork };
}
