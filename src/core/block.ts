import { ByteReader, ByteWriter, DecodeError } from './encoding.js';
import { HEADER_BYTES, encodeHeader, headerFromJson, headerHash, headerToJson, readHeader, type BlockHeader, type HeaderJson } from './header.js';
import { hashToHex } from './hash.js';
import { merkleRoot } from './merkle.js';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from './params.js';
import { readTx, txFromJson, txHash, txSize, txToJson, writeTx, type Transaction, type TransactionJson } from './transaction.js';

/** A block: its header and its transactions, the coinbase first. */
export interface Block {
  header: BlockHeader;
  txs: Transaction[];
}

/** JSON form of a block, as sent in BLOCK messages and by the API. */
export interface BlockJson {
  header: HeaderJson;
  transactions: TransactionJson[];
}

/** Serialised size in bytes: header, u32 transaction count, transactions. */
export function blockSize(b: Block): number {
  let n = HEADER_BYTES + 4;
  for (const tx of b.txs) n += txSize(tx);
  return n;
}

/** Binary encoding used by the store. */
export function encodeBlock(b: Block): Uint8Array {
  const w = new ByteWriter(blockSize(b));
  w.raw(encodeHeader(b.header)).u32(b.txs.length);
  for (const tx of b.txs) writeTx(w, tx);
  return w.bytes;
}

/**
 * Decodes a block.
 * @throws DecodeError on a bad encoding, trailing bytes, more than
 *   {@link MAX_BLOCK_TXS} transactions or more than {@link MAX_BLOCK_BYTES}.
 */
export function decodeBlock(bytes: Uint8Array): Block {
  if (bytes.length > MAX_BLOCK_BYTES) throw new DecodeError(`block of ${bytes.length} bytes exceeds ${MAX_BLOCK_BYTES}`);
  const r = new ByteReader(bytes);
  const header = readHeader(r);
  const count = r.u32();
  if (count > MAX_BLOCK_TXS) throw new DecodeError(`block claims ${count} transactions, limit ${MAX_BLOCK_TXS}`);
  const txs: Transaction[] = [];
  for (let i = 0; i < count; i++) txs.push(readTx(r));
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after block`);
  return { header, txs };
}

/** Block hash (internal byte order). */
export function blockHash(b: Block): Uint8Array {
  return headerHash(b.header);
}

/** Merkle root over the block's transaction ids. */
export function computeMerkleRoot(txs: readonly Transaction[]): Uint8Array {
  return merkleRoot(txs.map(txHash));
}

/**
 * The ids of a block's transactions, in block order, computed once and handed
 * along (checks, store, mempool, compact blocks) instead of being hashed again
 * by each: `hashes` in internal byte order (merkle leaves, compact-block short
 * ids), `ids` the same in display hex (txids).
 */
export interface BlockTxIds {
  readonly hashes: readonly Uint8Array[];
  readonly ids: readonly string[];
}

/** Hashes every transaction of `block` once (SHA-256d of its encoding). */
export function blockTxIds(block: Block): BlockTxIds {
  const hashes = block.txs.map(txHash);
  return { hashes, ids: hashes.map(hashToHex) };
}

export function blockToJson(b: Block): BlockJson {
  return { header: headerToJson(b.header), transactions: b.txs.map(txToJson) };
}

/**
 * Parses the JSON form.
 * @throws DecodeError naming the first bad field, or when there are more than
 *   {@link MAX_BLOCK_TXS} transactions.
 */
export function blockFromJson(j: unknown): Block {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new DecodeError('block must be an object');
  const o = j as Record<string, unknown>;
  if (!Array.isArray(o.transactions)) throw new DecodeError('block.transactions must be an array');
  if (o.transactions.length > MAX_BLOCK_TXS) throw new DecodeError(`block has ${o.transactions.length} transactions, limit ${MAX_BLOCK_TXS}`);
  return { header: headerFromJson(o.header), txs: o.transactions.map((t, i) => {
    try {
      return txFromJson(t);
    } catch (err) {
      throw new DecodeError(`block.transactions[${i}]: ${(err as Error).message}`, { cause: err });
    }
  }) };
}
