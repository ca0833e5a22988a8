import type { Block } from '../core/block.js';
import { blockHash } from '../core/block.js';
import { hashFromHex, hashToHex } from '../core/hash.js';
import type { NetworkParams } from '../core/params.js';
import { workFromBits } from '../core/pow.js';
import { reject, type RejectCode, type Rejection, type Verdict } from '../core/reject.js';
import { AccountOverlay } from '../core/state.js';
import { checkBlock, checkHeaderContext, connectTransactions, medianTimePast, nextBits, type HeaderLike, type VerifiedTransfers } from '../core/validation.js';
import type { EventBus } from './events.js';
import type { BlockIndexEntry, BlockStore, ChainTip } from '../store/block-store.js';
import type { Actor } from './runtime/actor.js';
import { Reply } from './runtime/actor.js';
import { assertNever } from '../core/reject.js';
import { MAX_LOCATOR_HASHES } from '../transport/limits.js';
import { systemClock, unixSeconds, type Clock } from '../core/clock.js';

/** Most blocks kept whose parent is unknown (bounded orphan pool, as Bitcoin Core's `MAX_ORPHAN_BLOCKS`). */
export const MAX_ORPHAN_BLOCKS = 256;
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
}

/** Messages of the chain actor. */
/** Events the chain actor publishes on the node's bus, after the change is durable in the store. */
export type ChainEvent =
  | { type: 'block-connected'; block: Block; entry: BlockIndexEntry }
  | { type: 'block-disconnected'; block: Block; entry: BlockIndexEntry }
  | { type: 'tip-changed'; tip: ChainTip; previous: ChainTip; reorgDepth: number }
  | { type: 'block-rejected'; hash: string; code: RejectCode; reason: string; source?: string };

export type ChainMsg =
  | { type: 'chain/submit-block'; block: Block; source?: string; reply?: Reply<SubmitBlockResult> }
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
  /** Clock in seconds since the epoch. */
  /** The clock header times are checked against. @default systemClock */
  clock?: Clock;
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
  private readonly orphans = new Map<string, Block>();
  private readonly orphansByPrev = new Map<string, Set<string>>();
  private readonly clock: Clock;
  private sequence = 0;
  private readonly verified = new VerifiedTransferCache();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: ChainActorDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const { store } = this.deps;
    this.unsubscribe = this.deps.bus.on('tx-accepted', (e) => this.verified.add(e.txid));
    const pending = new Map<string, BlockIndexEntry>();
    for (const e of store.entries()) pending.set(e.hash, e);
    const sorted = [...pending.values()].sort((a, b) => a.height - b.height);
    for (const e of sorted) {
      const parent = this.index.get(hashToHex(e.header.prevHash));
      const node: IndexNode = { ...e, parent, invalid: false, sequence: this.sequence++ };
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
        const result = await this.submitBlock(msg.block, msg.source);
        msg.reply?.resolve(result);
        return;
      }
      case 'chain/get-tip':
        msg.reply.resolve(this.tipView());
        return;
      case 'chain/next-block-context':
        msg.reply.resolve({
          prevHash: hashFromHex(this.tip.hash),
          height: this.tip.height + 1,
          bits: nextBits(this.tip, (h) => this.ancestor(this.tip, h), this.deps.params),
          medianTimePast: medianTimePast(this.tip, (h) => this.ancestor(this.tip, h)),
        });
        return;
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
        msg.reply.resolve(this.index.has(msg.hash) || this.orphans.has(msg.hash));
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

  /** The ancestor of `from` at `height` (walks parent links; main-chain lookups go through the store's height index). */
  private ancestor(from: IndexNode, height: number): IndexNode | undefined {
    if (height > from.height || height < 0) return undefined;
    if (this.isMain(from)) {
      const h = this.deps.store.getHashAtHeight(height);
      return h === undefined ? undefined : this.index.get(h);
    }
    let n: IndexNode | undefined = from;
    while (n && n.height > height) n = n.parent;
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

  private async submitBlock(block: Block, source?: string): Promise<SubmitBlockResult> {
    const first = await this.acceptBlock(block, source);
    if (first.status === 'connected' || first.status === 'reorg' || first.status === 'side-branch') {
      await this.connectOrphansOf(first.hash, source);
    }
    return first;
  }

  private async connectOrphansOf(hash: string, source?: string): Promise<void> {
    const queue = [hash];
    while (queue.length > 0) {
      const parent = queue.shift()!;
      const children = this.orphansByPrev.get(parent);
      if (!children) continue;
      this.orphansByPrev.delete(parent);
      for (const childHash of children) {
        const child = this.orphans.get(childHash);
        this.orphans.delete(childHash);
        if (!child) continue;
        const r = await this.acceptBlock(child, source);
        if (r.status === 'connected' || r.status === 'reorg' || r.status === 'side-branch') queue.push(r.hash);
      }
    }
  }

  private invalid(hash: string, v: Verdict & { ok: false }, source?: string): SubmitBlockResult {
    this.deps.bus.publish({ type: 'block-rejected', hash, code: v.code, reason: v.reason, source });
    return { status: 'invalid', hash, code: v.code, reason: v.reason };
  }

  private async acceptBlock(block: Block, source?: string): Promise<SubmitBlockResult> {
    const { params, networkId, store } = this.deps;
    const hash = hashToHex(blockHash(block));
    const known = this.index.get(hash);
    if (known) {
      // Refused from the index alone, without validating the same bytes again (Bitcoin Core's BLOCK_CACHED_INVALID).
      return known.invalid ? this.invalid(hash, reject('duplicate-invalid', `block is known to be invalid (${known.failure?.code ?? 'bad-prev'})`), source) : { status: 'duplicate', hash };
    }
    if (this.orphans.has(hash)) return { status: 'duplicate', hash };
    const structural = checkBlock(block, params, networkId, this.verified);
    if (!structural.ok) return this.invalid(hash, structural, source);
    const prevHex = hashToHex(block.header.prevHash);
    const parent = this.index.get(prevHex);
    if (!parent) {
      this.addOrphan(hash, prevHex, block);
      return { status: 'orphan', hash, missing: prevHex };
    }
    if (parent.invalid) {
      return this.invalid(hash, reject('bad-prev', `parent ${prevHex} is invalid`), source);
    }
    const ancestor = (h: number): HeaderLike | undefined => this.ancestor(parent, h);
    const ctx = checkHeaderContext(
      block.header,
      {
        height: parent.height + 1,
        expectedBits: nextBits(parent, ancestor, params),
        medianTimePast: medianTimePast(parent, ancestor),
        now: unixSeconds(this.clock),
      },
      params,
    );
    if (!ctx.ok) return this.invalid(hash, ctx, source);
    const node: IndexNode = {
      hash,
      header: block.header,
      height: parent.height + 1,
      chainWork: parent.chainWork + workFromBits(block.header.bits),
      parent,
      invalid: false,
      sequence: this.sequence++,
    };
    if (parent === this.tip) {
      const v = await this.connectTip(node, block);
      if (!v.ok) return this.invalid(hash, v, source);
      this.addToIndex(node);
      return { status: 'connected', hash, height: node.height };
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

  private addOrphan(hash: string, prevHex: string, block: Block): void {
    if (this.orphans.size >= MAX_ORPHAN_BLOCKS) {
      const oldest = this.orphans.keys().next().value as string;
      const b = this.orphans.get(oldest)!;
      this.orphans.delete(oldest);
      this.orphansByPrev.get(hashToHex(b.header.prevHash))?.delete(oldest);
    }
    this.orphans.set(hash, block);
    let set = this.orphansByPrev.get(prevHex);
    if (!set) this.orphansByPrev.set(prevHex, (set = new Set()));
    set.add(hash);
  }

  /** Connects on the tip and announces the new tip. */
  private async connectTip(node: IndexNode, block: Block): Promise<Verdict> {
    const previous = this.tipView();
    const v = await this.connectTipQuiet(node, block);
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
          this.markInvalid(node, v);
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
  private async connectTipQuiet(node: IndexNode, block: Block): Promise<Verdict> {
    const overlay = new AccountOverlay(this.deps.store);
    const v = connectTransactions(block, node.height, overlay, this.deps.params);
    if (!v.ok) return v;
    await this.deps.store.connectBlock(stripNode(node), block, overlay.changed, overlay.previous);
    this.tip = node;
    this.deps.bus.publish({ type: 'block-connected', block, entry: stripNode(node) });
    return { ok: true };
  }

  private markInvalid(node: IndexNode, failure: Rejection): void {
    node.invalid = true;
    node.failure = failure;
    for (const n of this.index.values()) {
      for (let p = n.parent; p; p = p.parent) {
        if (p === node) {
          n.invalid = true;
          n.failure = reject('bad-prev', `ancestor ${node.hash} is invalid (${failure.code})`);
          break;
        }
        if (p.height < node.height) break;
      }
    }
  }
}

function stripNode(n: IndexNode): BlockIndexEntry {
  return { hash: n.hash, header: n.header, height: n.height, chainWork: n.chainWork };
}
