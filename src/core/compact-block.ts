import { sha256 } from '@noble/hashes/sha2.js';
import type { Block, BlockTxIds } from './block.js';
import { encodeHeader, type BlockHeader } from './header.js';
import { hashToHex } from './hash.js';
import { sipHash24, sipHashKey, type SipHashKey } from './siphash.js';
import type { Transaction } from './transaction.js';

/*
 * Compact blocks after BIP 152: a block travels as its header, a 6-byte short
 * id per transaction and the transactions the receiver cannot have (the
 * coinbase); the receiver rebuilds it from its mempool and asks only for what
 * it lacks. Short ids are SipHash-2-4 of the transaction's hash (internal byte
 * order), keyed by the first 16 bytes of SHA-256(header ‖ nonce), so that
 * nobody can grind transactions that collide for every peer (the sender picks
 * a fresh nonce per block).
 */

/** Compact block protocol version spoken (BIP 152's version 1, with this chain's txids). */
export const COMPACT_BLOCK_VERSION = 1;
/** Bytes of a short transaction id (BIP 152: 6). */
export const SHORT_ID_BYTES = 6;
/** Largest nonce of a compact block: an exact integer in JSON (it is written as 8 little-endian bytes into the key). */
export const MAX_COMPACT_NONCE = Number.MAX_SAFE_INTEGER;

/** A transaction sent in full inside a compact block, with its index in the block. */
export interface PrefilledTx {
  index: number;
  tx: Transaction;
}

/**
 * A block as BIP 152's `HeaderAndShortIDs`: header, nonce, one short id per
 * transaction that is not prefilled (in block order), and the prefilled
 * transactions (ascending index). Short ids are 48-bit integers.
 */
export interface CompactBlock {
  header: BlockHeader;
  nonce: number;
  shortIds: number[];
  prefilled: PrefilledTx[];
}

/** The SipHash key of a compact block: SHA-256 (single) of the 80-byte header followed by the nonce as 8 little-endian bytes; k0, k1 its first 16 bytes (BIP 152). */
export function compactBlockKey(header: BlockHeader, nonce: number): SipHashKey {
  const data = new Uint8Array(88);
  data.set(encodeHeader(header), 0);
  const dv = new DataView(data.buffer);
  dv.setUint32(80, nonce % 0x1_0000_0000, true);
  dv.setUint32(84, Math.floor(nonce / 0x1_0000_0000), true);
  return sipHashKey(sha256(data));
}

/** The short id of a transaction: the low 48 bits of SipHash-2-4 of its hash (internal byte order), as an integer. */
export function shortTxId(key: SipHashKey, txHash: Uint8Array): number {
  const { hi, lo } = sipHash24(key, txHash);
  return (hi & 0xffff) * 0x1_0000_0000 + lo;
}

/** Builds the compact form of `block`, prefilling its coinbase (BIP 152: the one transaction a receiver never has). */
export function toCompactBlock(block: Block, ids: BlockTxIds, nonce: number): CompactBlock {
  const key = compactBlockKey(block.header, nonce);
  const shortIds: number[] = [];
  const prefilled: PrefilledTx[] = [];
  block.txs.forEach((tx, index) => {
    if (tx.type === 'coinbase') prefilled.push({ index, tx });
    else shortIds.push(shortTxId(key, ids.hashes[index]!));
  });
  return { header: block.header, nonce, shortIds, prefilled };
}

/** A transaction the receiver already holds, with its hash computed when it was first seen. */
export interface KnownTx {
  tx: Transaction;
  hash: Uint8Array;
  id: string;
}

/** Why a compact block cannot be rebuilt at all (the receiver then asks for the full block). */
export type CompactBlockProblem = 'bad-prefilled-index' | 'duplicate-short-id' | 'too-many-transactions';

/**
 * The reconstruction of one compact block (BIP 152's `PartiallyDownloadedBlock`):
 * slots filled from the prefilled transactions, then from the receiver's
 * transactions by short id (a short id that two of them share leaves its slot
 * empty: that transaction is asked for instead), then from a BLOCKTXN answer.
 */
export class PartialBlock {
  readonly key: SipHashKey;
  private readonly slots: Array<KnownTx | undefined>;
  /** Slot index of each short id (short ids are unique within a block, checked by {@link PartialBlock.create}). */
  private readonly slotOf = new Map<number, number>();

  private constructor(readonly compact: CompactBlock, total: number) {
    this.key = compactBlockKey(compact.header, compact.nonce);
    this.slots = new Array<KnownTx | undefined>(total);
  }

  /**
   * Lays out the slots.
   * @returns the partial block, or the problem that makes the compact block unusable:
   *   prefilled indexes not ascending or out of range, a short id twice (BIP 152:
   *   fall back to the full block), or more transactions than `maxTxs`.
   */
  static create(compact: CompactBlock, maxTxs: number, hashTx: (tx: Transaction) => Uint8Array): PartialBlock | CompactBlockProblem {
    const total = compact.shortIds.length + compact.prefilled.length;
    if (total > maxTxs) return 'too-many-transactions';
    const p = new PartialBlock(compact, total);
    let last = -1;
    for (const { index, tx } of compact.prefilled) {
      if (!Number.isInteger(index) || index <= last || index >= total) return 'bad-prefilled-index';
      last = index;
      const hash = hashTx(tx);
      p.slots[index] = { tx, hash, id: hashToHex(hash) };
    }
    let s = 0;
    for (let i = 0; i < total; i++) {
      if (p.slots[i]) continue;
      const id = compact.shortIds[s++]!;
      if (p.slotOf.has(id)) return 'duplicate-short-id';
      p.slotOf.set(id, i);
    }
    return p;
  }

  /**
   * Fills slots from candidate transactions (typically the mempool): a
   * candidate whose short id matches an empty slot fills it; when two
   * candidates match one slot, the slot is emptied again and stays missing.
   */
  fill(candidates: Iterable<KnownTx>): void {
    const collided = new Set<number>();
    for (const c of candidates) {
      const sid = shortTxId(this.key, c.hash);
      const slot = this.slotOf.get(sid);
      if (slot === undefined || collided.has(slot)) continue;
      if (this.slots[slot]) {
        if (this.slots[slot]!.id === c.id) continue;
        this.slots[slot] = undefined;
        collided.add(slot);
        continue;
      }
      this.slots[slot] = c;
    }
  }

  /** Indexes (ascending) of the transactions still missing. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.slots.length; i++) if (!this.slots[i]) out.push(i);
    return out;
  }

  /**
   * Fills the missing slots, in ascending index order, with `txs` (a BLOCKTXN answer).
   * @returns false when the count does not match the missing slots.
   */
  fillMissing(txs: readonly KnownTx[]): boolean {
    const missing = this.missing();
    if (missing.length !== txs.length) return false;
    missing.forEach((slot, i) => (this.slots[slot] = txs[i]));
    return true;
  }

  /** The whole block and its transaction ids, once nothing is missing; undefined before. */
  complete(): { block: Block; ids: BlockTxIds } | undefined {
    const txs: Transaction[] = [];
    const hashes: Uint8Array[] = [];
    const ids: string[] = [];
    for (const s of this.slots) {
      if (!s) return undefined;
      txs.push(s.tx);
      hashes.push(s.hash);
      ids.push(s.id);
    }
    return { block: { header: this.compact.header, txs }, ids: { hashes, ids } };
  }
}
