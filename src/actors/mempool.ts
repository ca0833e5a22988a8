import type { Block } from '../core/block.js';
import { bytesEqual, toHex } from '../core/encoding.js';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_MONEY } from '../core/params.js';
import { assertNever, reject, type RejectCode, type Rejection } from '../core/reject.js';
import { EMPTY_ACCOUNT, type Account, type AccountReader } from '../core/state.js';
import { DEFAULT_DUST_LIMIT, DEFAULT_MEMPOOL_EXPIRY_MS, DEFAULT_MEMPOOL_MAX_TRANSACTIONS, DEFAULT_MIN_RELAY_FEE, MAX_PENDING_PER_SENDER } from '../core/policy.js';
import { TRANSFER_BYTES, txHash, type TransferTx } from '../core/transaction.js';
import { badSignature, checkTransferAmounts, verifyTransferSignature } from '../core/validation.js';
import { hashToHex } from '../core/hash.js';
import { shortTxId, type KnownTx } from '../core/compact-block.js';
import type { SipHashKey } from '../core/siphash.js';
import type { SignatureVerifier } from '../workers/verify-pool.js';
import type { NetworkParams } from '../core/params.js';
import type { BlockStore } from '../store/block-store.js';
import type { EventBus } from './events.js';
import { IndexedHeap, siftDown, siftUp } from './indexed-heap.js';
import type { Actor, ActorContext, Reply } from './runtime/actor.js';

/** Outcome of offering a transaction. */
export type AddTxResult = { accepted: true; txid: string } | (Rejection & { accepted: false; txid: string });

/** Why a transfer left the mempool other than by being confirmed. */
export type EvictionReason = 'confirmed-conflict' | 'mempool-full' | 'invalid-after-reorg' | 'expired';

/** Events the mempool publishes on the node's bus. */
export type MempoolEvent =
  | { type: 'tx-accepted'; tx: TransferTx; txid: string; source?: string }
  | { type: 'tx-evicted'; txid: string; reason: EvictionReason }
  /** A transfer was refused (any code but `already-known`, which gossip makes routine). */
  | { type: 'tx-rejected'; txid: string; code: RejectCode; reason: string; source?: string };

/** Messages of the mempool actor. */
export type MempoolMsg =
  | { type: 'mempool/add'; tx: TransferTx; source?: string; reply?: Reply<AddTxResult> }
  /** `hashes`: each transfer's txid, internal byte order, when the sender computed them already (they are not computed again). */
  | { type: 'mempool/add-many'; txs: TransferTx[]; hashes?: Uint8Array[]; source?: string; reply?: Reply<AddTxResult[]> }
  /** Internal: a batch of `mempool/add-many` whose signatures the verifier has checked, admitted in arrival order. */
  | { type: 'mempool/admit'; batch: AdmissionBatch }
  /** Transfers whose short ids (BIP 152, under `key`) are among `shortIds`, for rebuilding a compact block. */
  | { type: 'mempool/compact-candidates'; key: SipHashKey; shortIds: ReadonlySet<number>; reply: Reply<KnownTx[]> }
  | { type: 'mempool/template'; maxTxs: number; maxBytes: number; reply: Reply<TransferTx[]> }
  | { type: 'mempool/get'; txid: string; reply: Reply<TransferTx | undefined> }
  | { type: 'mempool/missing'; txids: string[]; reply: Reply<string[]> }
  | { type: 'mempool/pending-nonce'; key: string; reply: Reply<number> }
  | { type: 'mempool/info'; reply: Reply<{ size: number; bytes: number }> }
  /** Up to `limit` transfers, highest fee first (ties: older first). */
  | { type: 'mempool/list'; limit: number; reply: Reply<Array<{ txid: string; tx: TransferTx }>> }
  | { type: 'mempool/block-connected'; block: Block }
  | { type: 'mempool/block-disconnected'; block: Block }
  | { type: 'mempool/revalidate' };

/** One pending transfer and its places in the indexes. */
interface Entry {
  readonly tx: TransferTx;
  readonly txid: string;
  /** The txid in internal byte order (compact blocks' short ids are computed from it). */
  readonly hash: Uint8Array;
  readonly sender: string;
  readonly recipient: string;
  /** amount + fee, base units. */
  readonly cost: bigint;
  /** Arrival order: among equal fees the earlier is mined first and evicted last. */
  readonly seq: number;
  /** Arrival time, ms (clock of {@link MempoolDeps.now}). */
  readonly addedAt: number;
  /** Position in the heap of senders' first transfers, -1 when not there. */
  headPos: number;
  /** Position in the heap of senders' last transfers, -1 when not there. */
  tailPos: number;
}

/** A batch of `mempool/add-many` on its way through signature verification. */
export interface AdmissionBatch {
  txs: TransferTx[];
  hashes: Uint8Array[];
  ids: string[];
  /** Signature verdict per transfer; undefined for the ones not sent to the verifier (they are checked at admission when needed). */
  signatures: Array<boolean | undefined>;
  source?: string;
  reply?: Reply<AddTxResult[]>;
}

/** One sender's pending transfers, nonce-ordered and (outside a reorg) gap-free from its confirmed nonce. */
interface SenderQueue {
  entries: Entry[];
  /** Sum of the entries' costs, base units. */
  committed: bigint;
}

/**
 * The state a transfer of the next block is checked against: the store's
 * confirmed accounts plus the coinbase that matures in that block (its
 * recipient may spend it there; see `coinbaseMaturity` in `params.ts`). The
 * mempool and the API's balances read this view.
 */
export class NextBlockState implements AccountReader {
  private cachedTip: string | undefined;
  private maturing: { recipient: string; amount: bigint } | undefined;

  constructor(
    private readonly store: Pick<BlockStore, 'getAccount' | 'getTip' | 'getHashAtHeight' | 'getBlock'>,
    private readonly params: NetworkParams,
  ) {}

  getAccount(key: string): Account | undefined {
    const acc = this.store.getAccount(key);
    const m = this.maturingCoinbase();
    if (!m || m.recipient !== key) return acc;
    return { balance: (acc?.balance ?? 0n) + m.amount, nonce: acc?.nonce ?? 0 };
  }

  /** Recipient (hex key) of the coinbase that matures in the next block, if any. */
  maturingRecipient(): string | undefined {
    return this.maturingCoinbase()?.recipient;
  }

  private maturingCoinbase(): { recipient: string; amount: bigint } | undefined {
    const tip = this.store.getTip();
    if (tip.hash === this.cachedTip) return this.maturing;
    this.cachedTip = tip.hash;
    const h = tip.height + 1 - this.params.coinbaseMaturity;
    const hash = h >= 1 ? this.store.getHashAtHeight(h) : undefined;
    const cb = hash === undefined ? undefined : this.store.getBlock(hash)?.txs[0];
    this.maturing = cb?.type === 'coinbase' ? { recipient: toHex(cb.recipient), amount: cb.amount } : undefined;
    return this.maturing;
  }
}

export interface MempoolDeps {
  networkId: Uint8Array;
  /**
   * Account state transfers are checked against: the store's confirmed state,
   * or a {@link NextBlockState} over it (then the coinbase maturing in the
   * next block is spendable, and a reorg that takes it back is followed).
   */
  state: AccountReader & { maturingRecipient?(): string | undefined };
  bus: EventBus;
  /** @default {@link DEFAULT_MEMPOOL_MAX_TRANSACTIONS} */
  maxTransactions?: number;
  /** Least fee accepted, base units (relay policy). @default {@link DEFAULT_MIN_RELAY_FEE} */
  minFee?: bigint;
  /** Least amount accepted, base units (relay policy). @default {@link DEFAULT_DUST_LIMIT} */
  dustLimit?: bigint;
  /** @default {@link MAX_PENDING_PER_SENDER} */
  maxPendingPerSender?: number;
  /** @default {@link DEFAULT_MEMPOOL_EXPIRY_MS} */
  expiryMs?: number;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
  /** Checks the signatures of `mempool/add-many` batches off the actor's thread (worker threads); without it they are checked in place. */
  verifier?: SignatureVerifier;
}

/** Better fee first, then earlier arrival. */
const minesFirst = (a: Entry, b: Entry): boolean => a.tx.fee > b.tx.fee || (a.tx.fee === b.tx.fee && a.seq < b.seq);
/** Lower fee first, then later arrival. */
const evictsFirst = (a: Entry, b: Entry): boolean => a.tx.fee < b.tx.fee || (a.tx.fee === b.tx.fee && a.seq > b.seq);

/**
 * The mempool: signed transfers not yet in a block, shaped like Bitcoin
 * Core's and bcoin's. Admission runs the cheap checks first and touches no
 * per-sender state before the signature verifies: duplicate, amounts, fee
 * and dust policy, whether a full pool could take it at all, the signature;
 * then the sender's queue: nonce order, at most
 * {@link MAX_PENDING_PER_SENDER} pending, a balance covering every pending
 * transfer of the sender (a running sum, not a walk), and the recipient's
 * balance staying within MAX_MONEY with everything pending to it (the check
 * consensus makes). Indexes keep every step O(log n): per-sender queues by
 * nonce, a heap of each sender's first transfer by fee (templates) and of
 * each sender's last transfer by fee (eviction: dropping a last transfer
 * leaves no gap), arrival order for expiry. Follows the chain: confirmed
 * transfers leave, conflicting ones are dropped, transfers of disconnected
 * blocks come back within the same limits.
 */
export class MempoolActor implements Actor<MempoolMsg> {
  private readonly byId = new Map<string, Entry>();
  private readonly bySender = new Map<string, SenderQueue>();
  /** Sum of pending amounts to each recipient, base units. */
  private readonly incoming = new Map<string, bigint>();
  private readonly heads = new IndexedHeap<Entry>(minesFirst, (e) => e.headPos, (e, i) => (e.headPos = i));
  private readonly tails = new IndexedHeap<Entry>(evictsFirst, (e) => e.tailPos, (e, i) => (e.tailPos = i));
  /** Senders whose queue a disconnected block changed, revalidated before the next other message. */
  private readonly dirty = new Set<string>();
  private readonly maxTxs: number;
  private readonly minFee: bigint;
  private readonly dustLimit: bigint;
  private readonly maxPerSender: number;
  private readonly expiryMs: number;
  private readonly now: () => number;
  private seq = 0;
  /** Recipient of the coinbase maturing in the next block, as last seen. */
  private lastMaturing: string | undefined;
  /** Batches under verification: admitted strictly in arrival order, so a sender's nonce chain split over two frames stays in order. */
  private admissions: Promise<void> = Promise.resolve();
  private ctx: ActorContext<MempoolMsg> | undefined;

  constructor(private readonly deps: MempoolDeps) {
    this.maxTxs = deps.maxTransactions ?? DEFAULT_MEMPOOL_MAX_TRANSACTIONS;
    this.minFee = deps.minFee ?? DEFAULT_MIN_RELAY_FEE;
    this.dustLimit = deps.dustLimit ?? DEFAULT_DUST_LIMIT;
    this.maxPerSender = deps.maxPendingPerSender ?? MAX_PENDING_PER_SENDER;
    this.expiryMs = deps.expiryMs ?? DEFAULT_MEMPOOL_EXPIRY_MS;
    this.now = deps.now ?? Date.now;
  }

  start(ctx: ActorContext<MempoolMsg>): void {
    this.ctx = ctx;
  }

  receive(msg: MempoolMsg): void {
    if (msg.type !== 'mempool/block-disconnected') this.settleReorg();
    switch (msg.type) {
      case 'mempool/add':
        msg.reply?.resolve(this.add(msg.tx, msg.source));
        return;
      case 'mempool/add-many':
        this.addMany(msg.txs, msg.source, msg.reply, msg.hashes);
        return;
      case 'mempool/admit':
        msg.batch.reply?.resolve(this.admit(msg.batch));
        return;
      case 'mempool/compact-candidates':
        msg.reply.resolve(this.compactCandidates(msg.key, msg.shortIds));
        return;
      case 'mempool/template':
        msg.reply.resolve(this.template(msg.maxTxs, msg.maxBytes));
        return;
      case 'mempool/get':
        msg.reply.resolve(this.byId.get(msg.txid)?.tx);
        return;
      case 'mempool/missing':
        msg.reply.resolve(msg.txids.filter((id) => !this.byId.has(id)));
        return;
      case 'mempool/pending-nonce':
        msg.reply.resolve(this.pendingNonce(msg.key));
        return;
      case 'mempool/info':
        msg.reply.resolve({ size: this.byId.size, bytes: this.byId.size * TRANSFER_BYTES });
        return;
      case 'mempool/list':
        msg.reply.resolve(
          [...this.byId.values()]
            .sort((a, b) => (a.tx.fee === b.tx.fee ? 0 : a.tx.fee > b.tx.fee ? -1 : 1))
            .slice(0, Math.max(0, msg.limit))
            .map((e) => ({ txid: e.txid, tx: e.tx })),
        );
        return;
      case 'mempool/block-connected':
        this.onBlockConnected(msg.block);
        return;
      case 'mempool/block-disconnected':
        this.onBlockDisconnected(msg.block);
        return;
      case 'mempool/revalidate':
        for (const sender of [...this.bySender.keys()]) this.revalidateSender(sender, 'invalid-after-reorg');
        return;
      default:
        assertNever(msg);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  private account(key: string): Account {
    return this.deps.state.getAccount(key) ?? EMPTY_ACCOUNT;
  }

  /** Next nonce of `key` counting its pending transfers. */
  private pendingNonce(key: string): number {
    const q = this.bySender.get(key);
    const last = q?.entries[q.entries.length - 1];
    return last ? last.tx.nonce + 1 : this.account(key).nonce;
  }

  /**
   * Batch admission: hashes each transfer once, sends the signatures of the
   * ones that pass the cheap stateless checks to the verifier (worker
   * threads), and admits the batch when they come back through a
   * `mempool/admit` message to itself, so that the actor serves other
   * messages meanwhile. Batches are admitted in arrival order. Without a
   * verifier the batch is admitted at once.
   */
  private addMany(txs: TransferTx[], source: string | undefined, reply: Reply<AddTxResult[]> | undefined, given?: Uint8Array[]): void {
    if (given && given.length !== txs.length) throw new RangeError(`${given.length} hashes for ${txs.length} transfers`);
    const hashes = given ?? txs.map(txHash);
    const batch: AdmissionBatch = { txs, hashes, ids: hashes.map(hashToHex), signatures: new Array<boolean | undefined>(txs.length), source, reply };
    const { verifier } = this.deps;
    const ctx = this.ctx;
    if (!verifier || !ctx) {
      reply?.resolve(this.admit(batch));
      return;
    }
    const toVerify: number[] = [];
    txs.forEach((tx, i) => {
      if (!this.byId.has(batch.ids[i]!) && checkTransferAmounts(tx).ok && tx.fee >= this.minFee && tx.amount >= this.dustLimit) toVerify.push(i);
    });
    const verified = verifier.verify(toVerify.map((i) => txs[i]!)).then(
      (ok) => toVerify.forEach((i, k) => (batch.signatures[i] = ok[k])),
      // A failed pool leaves the verdicts undefined: admission then verifies in place.
      () => undefined,
    );
    this.admissions = Promise.all([this.admissions, verified]).then(() => {
      ctx.deliver({ type: 'mempool/admit', batch });
    });
  }

  private admit(batch: AdmissionBatch): AddTxResult[] {
    const { txs } = batch;
    // Sort by nonce so that a batch may carry a sender's chain in any order.
    const order = txs.map((tx, i) => ({ tx, i })).sort((a, b) => a.tx.nonce - b.tx.nonce || a.i - b.i);
    const out = new Array<AddTxResult>(txs.length);
    for (const { tx, i } of order) out[i] = this.add(tx, batch.source, { hash: batch.hashes[i]!, id: batch.ids[i]!, signature: batch.signatures[i] });
    return out;
  }

  /** The transfers whose short id under `key` is in `shortIds` (a compact block's receiver rebuilding it). */
  private compactCandidates(key: SipHashKey, shortIds: ReadonlySet<number>): KnownTx[] {
    const out: KnownTx[] = [];
    for (const e of this.byId.values()) if (shortIds.has(shortTxId(key, e.hash))) out.push({ tx: e.tx, hash: e.hash, id: e.txid });
    return out;
  }

  private add(tx: TransferTx, source?: string, known?: { hash: Uint8Array; id: string; signature: boolean | undefined }): AddTxResult {
    const hash = known?.hash ?? txHash(tx);
    const id = known?.id ?? hashToHex(hash);
    const fail = (r: Rejection): AddTxResult => {
      if (r.code !== 'already-known') this.deps.bus.publish({ type: 'tx-rejected', txid: id, code: r.code, reason: r.reason, ...(source !== undefined ? { source } : {}) });
      return { ...r, accepted: false, txid: id };
    };
    // 1. Cheap and stateless.
    if (this.byId.has(id)) return fail(reject('already-known', 'transaction is already in the mempool'));
    const amounts = checkTransferAmounts(tx);
    if (!amounts.ok) return fail(amounts);
    if (tx.fee < this.minFee) return fail(reject('fee-too-low', `fee ${tx.fee} is below the minimum relay fee ${this.minFee} base units`));
    if (tx.amount < this.dustLimit) return fail(reject('dust', `amount ${tx.amount} is below the dust limit ${this.dustLimit} base units`));
    this.expire();
    if (this.byId.size >= this.maxTxs) {
      const worst = this.tails.peek();
      if (!worst || worst.tx.fee >= tx.fee) return fail(reject('mempool-full', `mempool holds ${this.maxTxs} transactions and none pays less than ${tx.fee}`));
    }
    // 2. The signature, before any per-sender state is read.
    if (!(known?.signature ?? verifyTransferSignature(tx, this.deps.networkId))) return fail(badSignature());
    // 3. The sender's queue and the recipient: O(1) reads of running sums.
    const sender = toHex(tx.sender);
    const account = this.account(sender);
    const q = this.bySender.get(sender);
    const expected = q && q.entries.length > 0 ? q.entries[q.entries.length - 1]!.tx.nonce + 1 : account.nonce;
    if (tx.nonce < account.nonce) return fail(reject('bad-nonce', `nonce ${tx.nonce} is already used (account nonce ${account.nonce})`));
    if (tx.nonce < expected) return fail(reject('bad-nonce', `nonce ${tx.nonce} conflicts with a pending transaction of this sender`));
    if (tx.nonce > expected) return fail(reject('nonce-gap', `nonce ${tx.nonce} leaves a gap; next expected ${expected}`));
    if (q && q.entries.length >= this.maxPerSender) {
      return fail(reject('too-many-pending', `sender has ${q.entries.length} pending transfers, the limit is ${this.maxPerSender}`));
    }
    const cost = tx.amount + tx.fee;
    const spendable = account.balance - (q?.committed ?? 0n);
    if (spendable < cost) return fail(reject('insufficient-balance', `sender can spend ${spendable}, transfer needs ${cost} base units`));
    const recipient = toHex(tx.recipient);
    if (recipient !== sender) {
      const after = this.account(recipient).balance + (this.incoming.get(recipient) ?? 0n) + tx.amount;
      if (after > MAX_MONEY) return fail(reject('balance-overflow', `recipient would hold ${after} base units with its pending transfers, above MAX_MONEY`));
    }
    if (this.byId.size >= this.maxTxs) {
      const worst = this.tails.peek()!;
      // Dropping the sender's own last transfer would leave this one a gap.
      if (worst.sender === sender) return fail(reject('mempool-full', `mempool holds ${this.maxTxs} transactions; the cheapest is this sender's own`));
      this.evict(worst, 'mempool-full');
    }
    this.append({ tx, txid: id, hash, sender, recipient, cost, seq: this.seq++, addedAt: this.now(), headPos: -1, tailPos: -1 });
    this.deps.bus.publish({ type: 'tx-accepted', tx, txid: id, source });
    return { accepted: true, txid: id };
  }

  /** Appends an entry at the end of its sender's queue (the nonce after the last). */
  private append(e: Entry): void {
    let q = this.bySender.get(e.sender);
    if (!q) this.bySender.set(e.sender, (q = { entries: [], committed: 0n }));
    const previousTail = q.entries[q.entries.length - 1];
    if (previousTail) this.tails.remove(previousTail);
    else this.heads.push(e);
    q.entries.push(e);
    q.committed += e.cost;
    this.tails.push(e);
    this.index(e);
  }

  private index(e: Entry): void {
    this.byId.set(e.txid, e);
    this.incoming.set(e.recipient, (this.incoming.get(e.recipient) ?? 0n) + e.tx.amount);
  }

  private unindex(e: Entry): void {
    this.byId.delete(e.txid);
    this.heads.remove(e);
    this.tails.remove(e);
    const left = (this.incoming.get(e.recipient) ?? 0n) - e.tx.amount;
    if (left > 0n) this.incoming.set(e.recipient, left);
    else this.incoming.delete(e.recipient);
  }

  /** Replaces a sender's queue with `keep` (a nonce-ordered subset of it) and fixes the head and tail indexes. */
  private setQueue(sender: string, q: SenderQueue, keep: Entry[]): void {
    const oldHead = q.entries[0];
    const oldTail = q.entries[q.entries.length - 1];
    q.entries = keep;
    q.committed = keep.reduce((sum, e) => sum + e.cost, 0n);
    const head = keep[0];
    const tail = keep[keep.length - 1];
    if (oldHead && oldHead !== head) this.heads.remove(oldHead);
    if (oldTail && oldTail !== tail) this.tails.remove(oldTail);
    if (head && !this.heads.has(head)) this.heads.push(head);
    if (tail && !this.tails.has(tail)) this.tails.push(tail);
    if (keep.length === 0) this.bySender.delete(sender);
  }

  /** Removes `e` and every later transfer of its sender (they would follow a gap). */
  private evict(e: Entry, reason: EvictionReason): void {
    const q = this.bySender.get(e.sender);
    if (!q) return;
    const at = q.entries.indexOf(e);
    if (at < 0) return;
    const dropped = q.entries.slice(at);
    this.setQueue(e.sender, q, q.entries.slice(0, at));
    for (const d of dropped) {
      this.unindex(d);
      this.deps.bus.publish({ type: 'tx-evicted', txid: d.txid, reason });
    }
  }

  /** Drops transfers pending longer than the expiry (oldest first: the map keeps arrival order). */
  private expire(): void {
    const limit = this.now() - this.expiryMs;
    for (const e of this.byId.values()) {
      if (e.addedAt > limit) break;
      this.evict(e, 'expired');
    }
  }

  /**
   * Transfers for a block template: greedily the highest fee among the next
   * transfer of each sender, so nonces stay in order, within the count and
   * byte limits. Walks the heap of senders' first transfers best-first and
   * merges in each picked transfer's successor: O(k log k) for k picked,
   * whatever the pool's size.
   */
  private template(maxTxs: number, maxBytes: number): TransferTx[] {
    const limitTxs = Math.min(maxTxs, MAX_BLOCK_TXS - 1);
    const limitBytes = Math.min(maxBytes, MAX_BLOCK_BYTES - 200);
    const out: TransferTx[] = [];
    const next: Entry[] = [];
    const walk = this.heads.cursor();
    let bytes = 0;
    while (out.length < limitTxs && bytes + TRANSFER_BYTES <= limitBytes) {
      const h = walk.peek();
      const s = next[0];
      let e: Entry;
      if (h && (!s || minesFirst(h, s))) {
        e = h;
        walk.next();
        // The block-connected message may still be on its way: a first transfer must carry the confirmed nonce.
        if (this.account(e.sender).nonce !== e.tx.nonce) continue;
      } else if (s) {
        e = s;
        const last = next.pop()!;
        if (next.length > 0) {
          next[0] = last;
          siftDown(next, 0, minesFirst);
        }
      } else break;
      out.push(e.tx);
      bytes += TRANSFER_BYTES;
      const q = this.bySender.get(e.sender)!;
      const following = q.entries[q.entries.indexOf(e, 0) + 1];
      if (following) {
        next.push(following);
        siftUp(next, next.length - 1, minesFirst);
      }
    }
    return out;
  }

  private onBlockConnected(block: Block): void {
    const touched = touchedAccounts(block);
    for (const tx of block.txs) {
      if (tx.type !== 'transfer') continue;
      const sender = toHex(tx.sender);
      const q = this.bySender.get(sender);
      // Found by sender and nonce rather than by txid: hashing every transfer of every block costs more.
      const e = q?.entries.find((x) => x.tx.nonce === tx.nonce);
      if (q && e && sameTransfer(e.tx, tx)) {
        this.setQueue(sender, q, q.entries.filter((x) => x !== e));
        this.unindex(e);
      }
    }
    for (const s of touched) this.revalidateSender(s, 'confirmed-conflict');
    const m = this.maturingChanged();
    if (m) this.revalidateSender(m, 'invalid-after-reorg');
    this.expire();
  }

  /**
   * Puts a disconnected block's transfers back (their signatures were
   * verified when the block connected). The state read now may already be
   * that of the new branch, several blocks on, so the senders are checked
   * once the reorg's disconnects are all in ({@link settleReorg}).
   */
  private onBlockDisconnected(block: Block): void {
    for (const tx of block.txs) {
      if (tx.type !== 'transfer') continue;
      const hash = txHash(tx);
      const id = hashToHex(hash);
      if (this.byId.has(id)) continue;
      const sender = toHex(tx.sender);
      let q = this.bySender.get(sender);
      if (!q) this.bySender.set(sender, (q = { entries: [], committed: 0n }));
      const clash = q.entries.find((x) => x.tx.nonce === tx.nonce);
      const e: Entry = { tx, txid: id, hash, sender, recipient: toHex(tx.recipient), cost: tx.amount + tx.fee, seq: this.seq++, addedAt: this.now(), headPos: -1, tailPos: -1 };
      const entries = q.entries.filter((x) => x !== clash);
      entries.push(e);
      entries.sort((a, b) => a.tx.nonce - b.tx.nonce);
      if (clash) {
        this.unindex(clash);
        this.deps.bus.publish({ type: 'tx-evicted', txid: clash.txid, reason: 'invalid-after-reorg' });
      }
      this.setQueue(sender, q, entries);
      this.index(e);
    }
    // A disconnect takes coins back from recipients and the coinbase's miner too: their pending spends may no longer be funded.
    for (const s of touchedAccounts(block)) this.dirty.add(s);
    const m = this.maturingChanged();
    if (m) this.dirty.add(m);
  }

  /** The previous maturing coinbase's recipient when another coinbase matures next now (its spends may have lost their funding). */
  private maturingChanged(): string | undefined {
    const now = this.deps.state.maturingRecipient?.();
    const before = this.lastMaturing;
    this.lastMaturing = now;
    return before !== undefined && before !== now ? before : undefined;
  }

  /** Revalidates the senders a reorg touched and trims the pool to its size. */
  private settleReorg(): void {
    if (this.dirty.size === 0) return;
    for (const s of this.dirty) this.revalidateSender(s, 'invalid-after-reorg');
    this.dirty.clear();
    while (this.byId.size > this.maxTxs) this.evict(this.tails.peek()!, 'mempool-full');
  }

  /** Keeps the sender's transfers that form a gap-free, funded chain from its confirmed nonce, within the per-sender limit; drops the rest. */
  private revalidateSender(sender: string, reason: EvictionReason): void {
    const q = this.bySender.get(sender);
    if (!q) return;
    const account = this.account(sender);
    let balance = account.balance;
    let n = account.nonce;
    const keep: Entry[] = [];
    const drop: Entry[] = [];
    for (const e of q.entries) {
      if (e.tx.nonce === n && keep.length < this.maxPerSender && e.cost <= balance) {
        keep.push(e);
        balance -= e.cost;
        n++;
      } else drop.push(e);
    }
    if (drop.length === 0) return;
    this.setQueue(sender, q, keep);
    for (const e of drop) {
      this.unindex(e);
      this.deps.bus.publish({ type: 'tx-evicted', txid: e.txid, reason });
    }
  }
}

/** Every account a block changes: senders, recipients and the coinbase's recipient. */
function touchedAccounts(block: Block): Set<string> {
  const out = new Set<string>();
  for (const tx of block.txs) {
    out.add(toHex(tx.recipient));
    if (tx.type === 'transfer') out.add(toHex(tx.sender));
  }
  return out;
}

/**
 * Whether two transfers of one sender and nonce are the same transaction:
 * equal recipient, amount, fee and signature, hence one encoding and one txid.
 */
function sameTransfer(a: TransferTx, b: TransferTx): boolean {
  return a.amount === b.amount && a.fee === b.fee && bytesEqual(a.signature, b.signature) && bytesEqual(a.recipient, b.recipient);
}

export { DEFAULT_DUST_LIMIT, DEFAULT_MEMPOOL_EXPIRY_MS, DEFAULT_MEMPOOL_MAX_TRANSACTIONS, DEFAULT_MIN_RELAY_FEE, MAX_PENDING_PER_SENDER };
