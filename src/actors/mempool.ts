import type { Block } from '../core/block.js';
import { bytesEqual, toHex } from '../core/encoding.js';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from '../core/params.js';
import { assertNever, reject, type Rejection } from '../core/reject.js';
import { EMPTY_ACCOUNT, type AccountReader } from '../core/state.js';
import { TRANSFER_BYTES, txid as computeTxid, type TransferTx } from '../core/transaction.js';
import { checkTransfer } from '../core/validation.js';
import type { EventBus } from './events.js';
import type { Actor, Reply } from './runtime/actor.js';

/** Default most transactions held (policy). */
export const DEFAULT_MEMPOOL_MAX_TXS = 50_000;

/** Outcome of offering a transaction. */
export type AddTxResult = { accepted: true; txid: string } | (Rejection & { accepted: false; txid: string });

/** Messages of the mempool actor. */
/** Events the mempool publishes on the node's bus. */
export type MempoolEvent =
  | { type: 'tx-accepted'; tx: TransferTx; txid: string; source?: string }
  | { type: 'tx-evicted'; txid: string; reason: 'confirmed-conflict' | 'mempool-full' | 'invalid-after-reorg' | 'expired' };

export type MempoolMsg =
  | { type: 'mempool/add'; tx: TransferTx; source?: string; reply?: Reply<AddTxResult> }
  | { type: 'mempool/add-many'; txs: TransferTx[]; source?: string; reply?: Reply<AddTxResult[]> }
  | { type: 'mempool/template'; maxTxs: number; maxBytes: number; reply: Reply<TransferTx[]> }
  | { type: 'mempool/get'; txid: string; reply: Reply<TransferTx | undefined> }
  | { type: 'mempool/missing'; txids: string[]; reply: Reply<string[]> }
  | { type: 'mempool/pending-nonce'; key: string; reply: Reply<number> }
  | { type: 'mempool/info'; reply: Reply<{ size: number; bytes: number }> }
  | { type: 'mempool/block-connected'; block: Block }
  | { type: 'mempool/block-disconnected'; block: Block }
  | { type: 'mempool/revalidate' };

interface Entry {
  tx: TransferTx;
  txid: string;
  sender: string;
}

export interface MempoolDeps {
  networkId: Uint8Array;
  /** Confirmed account state (the store). */
  state: AccountReader;
  bus: EventBus;
  maxTransactions?: number;
  /** Least fee accepted, base units (relay policy, not consensus). */
  minFee?: bigint;
}

/**
 * The mempool: signed transfers not yet in a block, each checked against the
 * confirmed state (signature, nonce order per sender, balance covering every
 * pending transfer of the sender, fee policy). Bounded: when full, a new
 * transfer with a higher fee evicts the lowest-fee transfer that ends a
 * sender's chain. Follows the chain: confirmed transfers leave, conflicting
 * ones are dropped, transfers of disconnected blocks come back.
 */
export class MempoolActor implements Actor<MempoolMsg> {
  private readonly byId = new Map<string, Entry>();
  /** Per sender (hex key), pending transfers by nonce. */
  private readonly bySender = new Map<string, Map<number, Entry>>();
  private readonly maxTxs: number;
  private readonly minFee: bigint;

  constructor(private readonly deps: MempoolDeps) {
    this.maxTxs = deps.maxTransactions ?? DEFAULT_MEMPOOL_MAX_TXS;
    this.minFee = deps.minFee ?? 0n;
  }

  receive(msg: MempoolMsg): void {
    switch (msg.type) {
      case 'mempool/add':
        msg.reply?.resolve(this.add(msg.tx, msg.source));
        return;
      case 'mempool/add-many':
        msg.reply?.resolve(this.addMany(msg.txs, msg.source));
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

  private account(key: string) {
    return this.deps.state.getAccount(key) ?? EMPTY_ACCOUNT;
  }

  /** Next nonce of `key` counting its consecutive pending transfers. */
  private pendingNonce(key: string): number {
    let n = this.account(key).nonce;
    const chain = this.bySender.get(key);
    while (chain?.has(n)) n++;
    return n;
  }

  private addMany(txs: TransferTx[], source?: string): AddTxResult[] {
    // Sort each sender's transfers by nonce so a batch may carry a chain in any order.
    const order = txs.map((tx, i) => ({ tx, i })).sort((a, b) => (a.tx.nonce - b.tx.nonce) || (a.i - b.i));
    const out = new Array<AddTxResult>(txs.length);
    for (const { tx, i } of order) out[i] = this.add(tx, source);
    return out;
  }

  private add(tx: TransferTx, source?: string): AddTxResult {
    const id = computeTxid(tx);
    const fail = (r: Rejection): AddTxResult => ({ ...r, accepted: false, txid: id });
    if (this.byId.has(id)) return fail(reject('already-known', 'transaction is already in the mempool'));
    if (tx.fee < this.minFee) return fail(reject('fee-too-low', `fee ${tx.fee} is below the minimum ${this.minFee} base units`));
    const sender = toHex(tx.sender);
    const account = this.account(sender);
    if (tx.nonce < account.nonce) return fail(reject('bad-nonce', `nonce ${tx.nonce} is already used (account nonce ${account.nonce})`));
    const expected = this.pendingNonce(sender);
    if (tx.nonce < expected) return fail(reject('bad-nonce', `nonce ${tx.nonce} conflicts with a pending transaction of this sender`));
    if (tx.nonce > expected) return fail(reject('nonce-gap', `nonce ${tx.nonce} leaves a gap; next expected ${expected}`));
    let committed = 0n;
    for (const e of this.bySender.get(sender)?.values() ?? []) committed += e.tx.amount + e.tx.fee;
    if (account.balance - committed < tx.amount + tx.fee) {
      return fail(reject('insufficient-balance', `sender can spend ${account.balance - committed}, transfer needs ${tx.amount + tx.fee} base units`));
    }
    const v = checkTransfer(tx, this.deps.networkId);
    if (!v.ok) return fail(v);
    if (this.byId.size >= this.maxTxs && !this.evictFor(tx)) {
      return fail(reject('mempool-full', `mempool holds ${this.maxTxs} transactions and none pays less`));
    }
    this.insert({ tx, txid: id, sender });
    this.deps.bus.publish({ type: 'tx-accepted', tx, txid: id, source });
    return { accepted: true, txid: id };
  }

  private insert(e: Entry): void {
    this.byId.set(e.txid, e);
    let chain = this.bySender.get(e.sender);
    if (!chain) this.bySender.set(e.sender, (chain = new Map()));
    chain.set(e.tx.nonce, e);
  }

  private remove(e: Entry): void {
    this.byId.delete(e.txid);
    const chain = this.bySender.get(e.sender);
    chain?.delete(e.tx.nonce);
    if (chain && chain.size === 0) this.bySender.delete(e.sender);
  }

  /** Evicts the lowest-fee transfer that ends a sender's chain if it pays less than `tx`. */
  private evictFor(tx: TransferTx): boolean {
    let worst: Entry | undefined;
    for (const chain of this.bySender.values()) {
      let last: Entry | undefined;
      for (const e of chain.values()) if (!last || e.tx.nonce > last.tx.nonce) last = e;
      if (last && (!worst || last.tx.fee < worst.tx.fee)) worst = last;
    }
    if (!worst || worst.tx.fee >= tx.fee) return false;
    this.remove(worst);
    this.deps.bus.publish({ type: 'tx-evicted', txid: worst.txid, reason: 'mempool-full' });
    return true;
  }

  /**
   * Transfers for a block template: greedily the highest fee among the next
   * transfer of each sender, so nonces stay in order, within the count and
   * byte limits.
   */
  private template(maxTxs: number, maxBytes: number): TransferTx[] {
    const limitTxs = Math.min(maxTxs, MAX_BLOCK_TXS - 1);
    const limitBytes = Math.min(maxBytes, MAX_BLOCK_BYTES - 200);
    const heads: Array<{ entry: Entry; sender: string; nonce: number }> = [];
    for (const [sender, chain] of this.bySender) {
      const n = this.account(sender).nonce;
      const e = chain.get(n);
      if (e) heads.push({ entry: e, sender, nonce: n });
    }
    const out: TransferTx[] = [];
    let bytes = 0;
    while (out.length < limitTxs && heads.length > 0 && bytes + TRANSFER_BYTES <= limitBytes) {
      let best = 0;
      for (let i = 1; i < heads.length; i++) if (heads[i]!.entry.tx.fee > heads[best]!.entry.tx.fee) best = i;
      const h = heads[best]!;
      out.push(h.entry.tx);
      bytes += TRANSFER_BYTES;
      const next = this.bySender.get(h.sender)?.get(h.nonce + 1);
      if (next) heads[best] = { entry: next, sender: h.sender, nonce: h.nonce + 1 };
      else heads.splice(best, 1);
    }
    return out;
  }

  private onBlockConnected(block: Block): void {
    for (const tx of block.txs) {
      if (tx.type !== 'transfer') continue;
      // Found by sender and nonce rather than by txid: hashing every transfer of every block costs more.
      const e = this.bySender.get(toHex(tx.sender))?.get(tx.nonce);
      if (e && sameTransfer(e.tx, tx)) this.remove(e);
    }
    for (const s of touchedAccounts(block)) this.revalidateSender(s, 'confirmed-conflict');
  }

  private onBlockDisconnected(block: Block): void {
    for (const tx of block.txs) {
      if (tx.type !== 'transfer') continue;
      const sender = toHex(tx.sender);
      const id = computeTxid(tx);
      const clash = this.bySender.get(sender)?.get(tx.nonce);
      if (clash) this.remove(clash);
      // Already verified when the block connected; the state now is the one it was valid on.
      this.insert({ tx, txid: id, sender });
    }
    // A disconnect takes coins back from recipients and the coinbase's miner too: their pending spends may no longer be funded.
    for (const s of touchedAccounts(block)) this.revalidateSender(s, 'invalid-after-reorg');
  }

  /** Keeps the sender's transfers that still form a gap-free, funded chain from its confirmed nonce; drops the rest. */
  private revalidateSender(sender: string, reason: 'confirmed-conflict' | 'invalid-after-reorg'): void {
    const chain = this.bySender.get(sender);
    if (!chain) return;
    const account = this.account(sender);
    let balance = account.balance;
    let n = account.nonce;
    const keep = new Set<Entry>();
    for (let e = chain.get(n); e; e = chain.get(++n)) {
      const cost = e.tx.amount + e.tx.fee;
      if (cost > balance) break;
      balance -= cost;
      keep.add(e);
    }
    for (const e of [...chain.values()]) {
      if (!keep.has(e)) {
        this.remove(e);
        this.deps.bus.publish({ type: 'tx-evicted', txid: e.txid, reason });
      }
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
