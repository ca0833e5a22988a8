import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { open, TransactionFlags, type Database, type RootDatabase } from 'lmdb';
import { decodeBlock, encodeBlock, type Block } from '../core/block.js';
import { hashToHex } from '../core/hash.js';
import { assertNever } from '../core/reject.js';
import { headerHashHex } from '../core/header.js';
import type { Account } from '../core/state.js';
import { txid } from '../core/transaction.js';
import { StoreError, type BlockConnect, type BlockIndexEntry, type BlockStore, type ChainTip, type StoreIdentity, type TxLocation } from './block-store.js';
import {
  DB_NAMES,
  IDENTITY_FILE,
  IDENTITY_TMP_FILE,
  LMDB_DATA_FILE,
  LMDB_MAGIC,
  LMDB_MAGIC_OFFSETS,
  MAX_DBS,
  checkAccountKey,
  checkEntryMatchesBlock,
  checkExtendsTip,
  META_KEYS,
  STORE_SCHEMA_VERSION,
  decodeAccount,
  decodeEntryValue,
  decodeMarker,
  decodeTip,
  decodeTxLocation,
  decodeUndo,
  encodeAccount,
  encodeEntryValue,
  encodeMarker,
  encodeTip,
  encodeTxLocation,
  encodeUndo,
  TX_LOCATION_BYTES,
  hexOfKey,
  key32,
  OPTIONAL_DBS,
  type DbName,
  type StoreMarker,
} from './keys.js';

/** Options of {@link LmdbBlockStore}. */
export interface LmdbBlockStoreInit {
  /** The store folder (created when missing). See `keys.ts` for what it holds. */
  path: string;
}

/**
 * lmdb-js `overlappingSync`: commits become visible at once and are flushed to
 * disk outside the write lock; after an OS crash LMDB falls back to the last
 * flushed transaction, which is consistent. lmdb-js enables it by default
 * except on Windows, where its flushes are slow.
 */
const OVERLAPPING_SYNC = process.platform !== 'win32';

/**
 * Flags of every write transaction: abortable (a throw inside rolls it back)
 * and committed before `transactionSync` returns. With overlapping sync it
 * returns before the flush (`NO_SYNC_FLUSH`, as lmdb-js does itself); without
 * it that flag would mean no flush at all, so the commit waits for it.
 * A process killed at any moment finds the last committed transaction.
 * `close()` waits for the last flush.
 */
const WRITE_TXN_FLAGS = TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT | (OVERLAPPING_SYNC ? TransactionFlags.NO_SYNC_FLUSH : 0);

/** The open named databases (see `keys.ts`). */
interface Dbs {
  meta: Database<string, string>;
  blocks: Database<Buffer, Buffer>;
  index: Database<Buffer, Buffer>;
  heights: Database<Buffer, number>;
  accounts: Database<Buffer, Buffer>;
  undo: Database<Buffer, Buffer>;
  txs: Database<Buffer, Buffer>;
  invalid: Database<Buffer, Buffer>;
}

/** What `open()` finds in the folder before touching LMDB. */
type FolderState =
  | { kind: 'fresh' }
  | { kind: 'store'; marker: StoreMarker; hasData: boolean }
  | { kind: 'foreign'; why: string };

/** The largest height the `heights` database can key (lmdb-js `uint32` keys). */
const MAX_HEIGHT = 0xffffffff;

/**
 * The LMDB {@link BlockStore} (lmdb-js). Layout: `keys.ts`. Reads are
 * synchronous; each of `connectBlock`, `connectBlocks` (a batch of blocks),
 * `disconnectTip` and `putBlock` is one LMDB write transaction (`transactionSync`), so a SIGKILL at any moment
 * leaves the state before or after it, never a mix.
 *
 * `open()` refuses, without writing anything:
 *  - a folder holding another network's chain (`wrong-network`, decided from
 *    the marker file alone, so the folder stays byte-for-byte unchanged);
 *  - a non-empty folder without the cheesechain marker, a `data.mdb` that is
 *    not an LMDB environment, another schema version, or metadata that does
 *    not agree with itself (`corrupt`).
 */
export class LmdbBlockStore implements BlockStore {
  readonly path: string;
  private env: RootDatabase | undefined;
  private dbs: Dbs | undefined;
  private tip: ChainTip | undefined;

  constructor(init: LmdbBlockStoreInit) {
    if (typeof init?.path !== 'string' || init.path.length === 0) throw new TypeError('options.path must be a non-empty string');
    this.path = init.path;
  }

  async open(identity: StoreIdentity): Promise<void> {
    if (this.env) throw new Error(`store ${this.path} is already open`);
    checkIdentity(identity);
    const folder = this.inspectFolder();
    switch (folder.kind) {
      case 'fresh':
        mkdirSync(this.path, { recursive: true });
        this.writeMarker(identity);
        await this.initialise(identity);
        return;
      case 'foreign':
        throw new StoreError('corrupt', `${this.path} ${folder.why}; refusing to initialise a store into it`);
      case 'store':
        this.checkMarker(folder.marker, identity);
        if (!folder.hasData) {
          // Initialisation was interrupted after the marker was written.
          await this.initialise(identity);
          return;
        }
        this.checkLmdbMagic();
        await this.openExisting(identity);
        return;
      default:
        assertNever(folder);
    }
  }

  async close(): Promise<void> {
    const env = this.env;
    if (!env) return;
    this.env = undefined;
    this.dbs = undefined;
    this.tip = undefined;
    await env.flushed;
    await env.close();
  }

  async putBlock(entry: BlockIndexEntry, block: Block): Promise<void> {
    const { env, dbs } = this.live();
    checkEntryMatchesBlock(entry, block);
    const key = key32(entry.hash)!;
    env.transactionSync(() => {
      dbs.blocks.putSync(key, Buffer.from(encodeBlock(block)));
      dbs.index.putSync(key, Buffer.from(encodeEntryValue(entry)));
    }, WRITE_TXN_FLAGS);
  }

  async markInvalid(blocks: ReadonlyArray<{ hash: string; code: string }>): Promise<void> {
    const { env, dbs } = this.live();
    const writes = blocks.map((b) => [key32(b.hash), Buffer.from(b.code, 'utf8')] as const);
    for (const [k] of writes) if (!k) throw new RangeError('markInvalid: a hash is not 64 hex characters');
    env.transactionSync(() => {
      for (const [k, v] of writes) dbs.invalid.putSync(k!, v);
    }, WRITE_TXN_FLAGS);
  }

  getInvalid(hash: string): string | undefined {
    const k = key32(hash);
    const v = k && this.live().dbs.invalid.getBinary(k);
    return v ? Buffer.from(v).toString('utf8') : undefined;
  }

  invalidBlocks(): Iterable<{ hash: string; code: string }> {
    const out: Array<{ hash: string; code: string }> = [];
    for (const { key, value } of this.live().dbs.invalid.getRange()) out.push({ hash: hexOfKey(key), code: Buffer.from(value).toString('utf8') });
    return out;
  }

  getBlock(hash: string): Block | undefined {
    const bytes = this.getBlockBytes(hash);
    return bytes && decodeBlock(bytes);
  }

  getBlockBytes(hash: string): Uint8Array | undefined {
    const key = key32(hash);
    const value = key && this.live().dbs.blocks.getBinary(key);
    return value ? asUint8Array(value) : undefined;
  }

  getEntry(hash: string): BlockIndexEntry | undefined {
    const key = key32(hash);
    const value = key && this.live().dbs.index.getBinary(key);
    return value ? decodeEntryValue(hash, value) : undefined;
  }

  entries(): Iterable<BlockIndexEntry> {
    const out: BlockIndexEntry[] = [];
    for (const { key, value } of this.live().dbs.index.getRange()) {
      const hash = hexOfKey(key);
      out.push(decodeEntryValue(hash, value));
    }
    return out;
  }

  getHashAtHeight(height: number): string | undefined {
    if (!Number.isInteger(height) || height < 0 || height > MAX_HEIGHT) return undefined;
    const value = this.live().dbs.heights.getBinary(height);
    return value ? hexOfKey(value) : undefined;
  }

  getTip(): ChainTip {
    const { tip } = this.live();
    return { ...tip };
  }

  getAccount(key: string): Account | undefined {
    const k = key32(key);
    const value = k && this.live().dbs.accounts.getBinary(k);
    return value ? decodeAccount(value) : undefined;
  }

  getTxLocation(id: string): TxLocation | undefined {
    const k = key32(id);
    const value = k && this.live().dbs.txs.getBinary(k);
    return value ? decodeTxLocation(value) : undefined;
  }

  async connectBlock(
    entry: BlockIndexEntry,
    block: Block,
    changes: ReadonlyMap<string, Account>,
    undo: ReadonlyMap<string, Account | undefined>,
    txids?: readonly string[],
  ): Promise<void> {
    await this.connectBlocks([{ entry, block, changes, undo, txids }]);
  }

  async connectBlocks(blocks: readonly BlockConnect[]): Promise<void> {
    const { env, dbs } = this.live();
    let tip = this.live().tip;
    // Everything is checked and encoded before the write transaction opens: inside it only puts run.
    const writes = blocks.map(({ entry, block, changes, undo, txids }) => {
      tip = checkExtendsTip(tip, entry, block);
      const key = key32(entry.hash)!;
      // Every transaction's location (encodeTxLocation: the block hash, then the index) in one buffer.
      const ids = txids ?? block.txs.map(txid);
      const locations = Buffer.allocUnsafe(ids.length * TX_LOCATION_BYTES);
      for (let index = 0; index < ids.length; index++) {
        key.copy(locations, index * TX_LOCATION_BYTES);
        locations.writeUInt32LE(index, index * TX_LOCATION_BYTES + 32);
      }
      const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return {
        key,
        height: entry.height,
        block: toBuffer(encodeBlock(block)),
        entry: toBuffer(encodeEntryValue(entry)),
        accounts: [...changes].map(([k, a]) => [accountKey(k), toBuffer(encodeAccount(a))] as const),
        undo: toBuffer(encodeUndo(undo)),
        txs: ids.map((id, index) => [key32(id)!, locations.subarray(index * TX_LOCATION_BYTES, (index + 1) * TX_LOCATION_BYTES)] as const),
      };
    });
    if (writes.length === 0) return;
    const newTip = tip;
    env.transactionSync(() => {
      for (const w of writes) {
        dbs.blocks.putSync(w.key, w.block);
        dbs.index.putSync(w.key, w.entry);
        dbs.heights.putSync(w.height, w.key);
        for (const [k, v] of w.accounts) dbs.accounts.putSync(k, v);
        dbs.undo.putSync(w.key, w.undo);
        for (const [k, v] of w.txs) dbs.txs.putSync(k, v);
      }
      dbs.meta.putSync(META_KEYS.tip, encodeTip(newTip));
    }, WRITE_TXN_FLAGS);
    this.tip = newTip;
  }

  async disconnectTip(): Promise<void> {
    const { env, dbs, tip } = this.live();
    if (tip.height === 0) throw new StoreError('unknown-block', 'the genesis block cannot be disconnected');
    const key = key32(tip.hash)!;
    const undoBytes = dbs.undo.getBinary(key);
    if (!undoBytes) throw new StoreError('unknown-block', `no undo data for the tip ${tip.hash}`);
    const blockBytes = dbs.blocks.getBinary(key);
    if (!blockBytes) throw new StoreError('unknown-block', `the tip block ${tip.hash} is missing`);
    const block = decodeBlock(blockBytes);
    const parentHash = hashToHex(block.header.prevHash);
    const parent = this.getEntry(parentHash);
    if (!parent) throw new StoreError('unknown-block', `the parent ${parentHash} of the tip is missing`);
    const restore = decodeUndo(undoBytes);
    const newTip: ChainTip = { hash: parent.hash, height: parent.height, chainWork: parent.chainWork };
    env.transactionSync(() => {
      for (const [k, prev] of restore) {
        if (prev) dbs.accounts.putSync(accountKey(k), Buffer.from(encodeAccount(prev)));
        else dbs.accounts.removeSync(accountKey(k));
      }
      dbs.heights.removeSync(tip.height);
      for (const tx of block.txs) {
        const txKey = key32(txid(tx))!;
        const loc = dbs.txs.getBinary(txKey);
        if (loc && decodeTxLocation(loc).blockHash === tip.hash) dbs.txs.removeSync(txKey);
      }
      dbs.undo.removeSync(key);
      dbs.meta.putSync(META_KEYS.tip, encodeTip(newTip));
    }, WRITE_TXN_FLAGS);
    this.tip = newTip;
  }

  private live(): { env: RootDatabase; dbs: Dbs; tip: ChainTip } {
    if (!this.env || !this.dbs || !this.tip) throw new StoreError('closed', `store ${this.path} is not open`);
    return { env: this.env, dbs: this.dbs, tip: this.tip };
  }

  /** Looks at the folder with plain file reads only. */
  private inspectFolder(): FolderState {
    let files: string[];
    try {
      if (!statSync(this.path).isDirectory()) return { kind: 'foreign', why: 'is a file, not a store folder' };
      files = readdirSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'fresh' };
      throw new StoreError('corrupt', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    // A marker whose rename never happened is a leftover of an interrupted initialisation.
    const meaningful = files.filter((f) => f !== IDENTITY_TMP_FILE);
    if (meaningful.length === 0) return { kind: 'fresh' };
    if (!meaningful.includes(IDENTITY_FILE)) {
      const listed = meaningful.slice(0, 5).join(', ') + (meaningful.length > 5 ? ', …' : '');
      return { kind: 'foreign', why: `holds files but no cheesechain store (${listed}; no ${IDENTITY_FILE})` };
    }
    let marker: StoreMarker;
    try {
      marker = decodeMarker(readFileSync(join(this.path, IDENTITY_FILE), 'utf8'));
    } catch (err) {
      throw new StoreError('corrupt', `${join(this.path, IDENTITY_FILE)} is unreadable: ${(err as Error).message}`, { cause: err });
    }
    // An empty data.mdb is what a crash inside LMDB's own creation of the environment leaves.
    const hasData = files.includes(LMDB_DATA_FILE) && statSync(join(this.path, LMDB_DATA_FILE)).size > 0;
    return { kind: 'store', marker, hasData };
  }

  private checkMarker(marker: StoreMarker, identity: StoreIdentity): void {
    if (marker.schemaVersion !== STORE_SCHEMA_VERSION) {
      throw new StoreError('corrupt', `${this.path} has store schema version ${marker.schemaVersion}; this build reads version ${STORE_SCHEMA_VERSION}`);
    }
    if (marker.network !== identity.network || marker.networkId !== identity.networkId) {
      throw new StoreError(
        'wrong-network',
        `${this.path} holds a ${marker.network} chain (network id ${marker.networkId}), not ${identity.network} (network id ${identity.networkId}); use another data folder`,
      );
    }
  }

  /** Refuses a `data.mdb` that does not start with an LMDB meta page, before LMDB opens (and would create `lock.mdb` beside) it. */
  private checkLmdbMagic(): void {
    const file = join(this.path, LMDB_DATA_FILE);
    const head = Buffer.alloc(Math.max(...LMDB_MAGIC_OFFSETS) + 4);
    let n = 0;
    try {
      const fd = openSync(file, 'r');
      try {
        n = readSync(fd, head, 0, head.length, 0);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new StoreError('corrupt', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (!LMDB_MAGIC_OFFSETS.some((at) => at + 4 <= n && head.readUInt32LE(at) === LMDB_MAGIC)) {
      throw new StoreError('corrupt', `${file} is not an LMDB environment`);
    }
  }

  /** Writes the marker atomically: a temporary file, fsync, rename, fsync of the folder. */
  private writeMarker(identity: StoreIdentity): void {
    const tmp = join(this.path, IDENTITY_TMP_FILE);
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, encodeMarker({ network: identity.network, networkId: identity.networkId }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.path, IDENTITY_FILE));
    const dirFd = openSync(this.path, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  private async openEnv(create: boolean): Promise<{ env: RootDatabase; dbs: Dbs | undefined }> {
    let env: RootDatabase;
    try {
      env = open({ path: this.path, maxDbs: MAX_DBS, noSubdir: false, overlappingSync: OVERLAPPING_SYNC });
    } catch (err) {
      throw new StoreError('corrupt', `cannot open the LMDB environment in ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const opened: Partial<Record<DbName, Database | undefined>> = {};
      for (const name of Object.keys(DB_NAMES) as DbName[]) {
        const options = {
          name: DB_NAMES[name],
          encoding: name === 'meta' ? 'string' : 'binary',
          keyEncoding: name === 'meta' ? 'ordered-binary' : name === 'heights' ? 'uint32' : 'binary',
          // lmdb-js option (not in its typings): do not create a missing database.
          create: create || OPTIONAL_DBS.includes(name),
        } as const;
        opened[name] = env.openDB(options);
      }
      const missing = (Object.keys(DB_NAMES) as DbName[]).filter((n) => !opened[n]);
      if (missing.length === 0) return { env, dbs: opened as Dbs };
      if (missing.length === Object.keys(DB_NAMES).length - OPTIONAL_DBS.length) return { env, dbs: undefined };
      throw new StoreError('corrupt', `${this.path} lacks the databases ${missing.join(', ')}`);
    } catch (err) {
      await env.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError('corrupt', `cannot open the databases in ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Creates the databases and connects genesis, in one write transaction. */
  private async initialise(identity: StoreIdentity): Promise<void> {
    const { env, dbs } = await this.openEnv(true);
    if (!dbs) throw new Error('unreachable: databases were created');
    const { genesis, genesisEntry } = identity;
    const key = key32(genesisEntry.hash)!;
    const tip: ChainTip = { hash: genesisEntry.hash, height: 0, chainWork: genesisEntry.chainWork };
    try {
      env.transactionSync(() => {
        // A half-initialised environment holds nothing of value: the tip is written last, in this same transaction.
        if (dbs.meta.get(META_KEYS.tip) !== undefined) throw new StoreError('corrupt', `${this.path} already holds a chain`);
        dbs.meta.putSync(META_KEYS.schemaVersion, String(STORE_SCHEMA_VERSION));
        dbs.meta.putSync(META_KEYS.network, identity.network);
        dbs.meta.putSync(META_KEYS.networkId, identity.networkId);
        dbs.blocks.putSync(key, Buffer.from(encodeBlock(genesis)));
        dbs.index.putSync(key, Buffer.from(encodeEntryValue(genesisEntry)));
        dbs.heights.putSync(0, key);
        // The genesis coinbase pays 0 to the all-zero key: no account changes.
        genesis.txs.forEach((tx, index) => dbs.txs.putSync(key32(txid(tx))!, Buffer.from(encodeTxLocation({ blockHash: genesisEntry.hash, index }))));
        dbs.meta.putSync(META_KEYS.tip, encodeTip(tip));
      }, WRITE_TXN_FLAGS);
    } catch (err) {
      await env.close();
      throw err;
    }
    this.env = env;
    this.dbs = dbs;
    this.tip = tip;
  }

  /** Opens a store whose marker matched, checking its metadata without writing. */
  private async openExisting(identity: StoreIdentity): Promise<void> {
    const { env, dbs } = await this.openEnv(false);
    if (!dbs) {
      // The environment exists but initialisation never committed.
      await env.close();
      await this.initialise(identity);
      return;
    }
    try {
      this.tip = verifyMeta(this.path, dbs, identity);
    } catch (err) {
      await env.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError('corrupt', `${this.path} has unreadable metadata: ${(err as Error).message}`, { cause: err });
    }
    this.env = env;
    this.dbs = dbs;
  }
}

/** Checks the metadata of an existing store and returns its tip. @throws StoreError `corrupt` or `wrong-network`. */
function verifyMeta(path: string, dbs: Dbs, identity: StoreIdentity): ChainTip {
  const corrupt = (what: string): StoreError => new StoreError('corrupt', `${path}: ${what}`);
  const schema = dbs.meta.get(META_KEYS.schemaVersion);
  if (schema !== String(STORE_SCHEMA_VERSION)) throw corrupt(`metadata schema version ${schema ?? '(missing)'}, expected ${STORE_SCHEMA_VERSION}`);
  const network = dbs.meta.get(META_KEYS.network);
  const networkId = dbs.meta.get(META_KEYS.networkId);
  if (network !== identity.network || networkId !== identity.networkId) {
    // The marker said this network: the two disagree.
    throw corrupt(`metadata names network ${network ?? '(missing)'} (${networkId ?? 'no id'}) but ${IDENTITY_FILE} names ${identity.network}`);
  }
  const tipText = dbs.meta.get(META_KEYS.tip);
  if (tipText === undefined) throw corrupt('the tip entry is missing');
  const tip = decodeTip(tipText);
  const tipKey = key32(tip.hash)!;
  const entryBytes = dbs.index.getBinary(tipKey);
  if (!entryBytes) throw corrupt(`the tip ${tip.hash} has no index entry`);
  const entry = decodeEntryValue(tip.hash, entryBytes);
  if (entry.height !== tip.height || entry.chainWork !== tip.chainWork) {
    throw corrupt(`the tip says height ${tip.height} and work ${tip.chainWork}, its index entry height ${entry.height} and work ${entry.chainWork}`);
  }
  if (headerHashHex(entry.header) !== tip.hash) throw corrupt(`the index entry of the tip ${tip.hash} holds another header`);
  const atTip = dbs.heights.getBinary(tip.height);
  if (!atTip || hexOfKey(atTip) !== tip.hash) throw corrupt(`the height index at the tip height ${tip.height} does not name the tip`);
  if (dbs.heights.getBinary(tip.height + 1) !== undefined) throw corrupt(`the height index goes past the tip height ${tip.height}`);
  const atZero = dbs.heights.getBinary(0);
  if (!atZero || hexOfKey(atZero) !== identity.networkId) throw corrupt('the height index does not start at this network\'s genesis');
  if (dbs.blocks.getBinary(tipKey) === undefined) throw corrupt(`the tip block ${tip.hash} is missing`);
  if (tip.height > 0 && dbs.undo.getBinary(tipKey) === undefined) throw corrupt(`the undo data of the tip ${tip.hash} is missing`);
  return tip;
}

/** Catches a caller passing an identity whose parts disagree (a bug, not bad data). */
function checkIdentity(identity: StoreIdentity): void {
  const hash = headerHashHex(identity.genesis.header);
  if (hash !== identity.networkId || identity.genesisEntry.hash !== hash || identity.genesisEntry.height !== 0) {
    throw new RangeError(`store identity is inconsistent: genesis hashes to ${hash}, networkId ${identity.networkId}, genesisEntry ${identity.genesisEntry.hash} at height ${identity.genesisEntry.height}`);
  }
}

function accountKey(key: string): Buffer {
  const k = key32(key);
  if (!k) checkAccountKey(key);
  return k!;
}

function asUint8Array(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

