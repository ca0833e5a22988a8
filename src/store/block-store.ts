import type { Block } from '../core/block.js';
import type { BlockHeader } from '../core/header.js';
import type { NetworkName } from '../core/params.js';
import type { Account, AccountReader } from '../core/state.js';

/**
 * One block known to the store, on the main chain or a side branch.
 * `hash` is display hex; `chainWork` the cumulative work from genesis up to
 * and including this block (expected hashes).
 */
export interface BlockIndexEntry {
  hash: string;
  header: BlockHeader;
  height: number;
  chainWork: bigint;
}

/** One block of {@link BlockStore.connectBlocks}: what {@link BlockStore.connectBlock} takes. */
export interface BlockConnect {
  entry: BlockIndexEntry;
  block: Block;
  changes: ReadonlyMap<string, Account>;
  undo: ReadonlyMap<string, Account | undefined>;
  /** Transaction ids, display hex, block order; computed by the store when absent. */
  txids?: readonly string[];
}

/** The main-chain tip. */
export interface ChainTip {
  hash: string;
  height: number;
  chainWork: bigint;
}

/** Where a main-chain transaction is: its block and its index in the block. */
export interface TxLocation {
  blockHash: string;
  index: number;
}

/** What the store was created for; a store opened for another network is refused. */
export interface StoreIdentity {
  network: NetworkName;
  /** Genesis hash, display hex. */
  networkId: string;
  genesis: Block;
  genesisEntry: BlockIndexEntry;
}

/** Why a store cannot be opened or written. */
export type StoreErrorCode = 'wrong-network' | 'corrupt' | 'closed' | 'not-on-tip' | 'unknown-block';

/**
 * Thrown by stores: `code` is always `ERR_STORE`, `reason` the kind.
 * `wrong-network` and `corrupt` mean the folder must not be touched.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code = 'ERR_STORE';
  constructor(readonly reason: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The chain's persistent state. Reads are synchronous; each write is one
 * atomic transaction (a crash leaves either the state before or after it).
 *
 * Implementations: `LmdbBlockStore` (lmdb-js) and `MemoryBlockStore`, both run
 * through `test/store/block-store.suite.ts`.
 */
export interface BlockStore extends AccountReader {
  /**
   * Opens the store. An empty store is initialised for `identity` with the
   * genesis block connected as tip.
   * @throws StoreError `wrong-network` when it holds another network's chain,
   *   `corrupt` when its metadata cannot be read; the data is left untouched.
   */
  open(identity: StoreIdentity): Promise<void>;
  /** Waits for pending writes and closes. Idempotent. */
  close(): Promise<void>;

  /**
   * Records blocks found invalid, with the reject code of the failure, so
   * that they are refused cheaply (`duplicate-invalid`) after a restart too.
   * Only blocks whose hash commits to the failure may be recorded (never a
   * body that could be a malleated copy of a valid block). One write
   * transaction; idempotent.
   */
  markInvalid(blocks: ReadonlyArray<{ hash: string; code: string }>): Promise<void>;
  /** The reject code recorded for a block by {@link markInvalid}, if any. */
  getInvalid(hash: string): string | undefined;
  /** Every recorded invalid block (hash, display hex, and its code). */
  invalidBlocks(): Iterable<{ hash: string; code: string }>;

  /** Stores a block and its index entry without connecting it (side branches, not yet connected blocks). Idempotent. */
  putBlock(entry: BlockIndexEntry, block: Block): Promise<void>;
  getBlock(hash: string): Block | undefined;
  /** The serialised block (binary encoding of `encodeBlock`). */
  getBlockBytes(hash: string): Uint8Array | undefined;
  getEntry(hash: string): BlockIndexEntry | undefined;
  /** Every index entry, in no particular order (to rebuild the in-memory block index at start). */
  entries(): Iterable<BlockIndexEntry>;

  /** Main chain: hash at height, or undefined above the tip. */
  getHashAtHeight(height: number): string | undefined;
  getTip(): ChainTip;
  getAccount(key: string): Account | undefined;
  getTxLocation(txid: string): TxLocation | undefined;

  /**
   * Connects `block` on top of the current tip in one write transaction:
   * stores block and entry, sets the height index, writes `changes` to the
   * accounts, keeps `undo` (previous values, undefined = account absent) for
   * a later disconnect, indexes the transactions, and moves the tip.
   * `txids` (display hex, block order) are the block's transaction ids when
   * the caller has them already; otherwise the store hashes the transactions.
   * @throws StoreError `not-on-tip` when entry.header.prevHash is not the tip.
   */
  connectBlock(
    entry: BlockIndexEntry,
    block: Block,
    changes: ReadonlyMap<string, Account>,
    undo: ReadonlyMap<string, Account | undefined>,
    txids?: readonly string[],
  ): Promise<void>;
  /**
   * Connects several blocks, each on the one before it and the first on the
   * tip, in ONE write transaction (fast sync): a crash leaves the tip before
   * the first or after the last of them, never between. Each block's
   * `changes` and `undo` are relative to the state after the blocks before it.
   * @throws StoreError `not-on-tip` when the blocks do not form a chain on the tip; nothing is written then.
   */
  connectBlocks(blocks: readonly BlockConnect[]): Promise<void>;
  /**
   * Disconnects the tip in one write transaction: restores accounts from its
   * undo data, removes its height and transaction index entries, and moves
   * the tip to its parent. The block itself stays stored.
   * @throws StoreError `unknown-block` when the undo data is missing.
   */
  disconnectTip(): Promise<void>;
}
