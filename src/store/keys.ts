/**
 * The on-disk layout of the LMDB block store, in one place.
 *
 * ## The folder
 *
 * A store is one folder (lmdb-js "subdir" mode) holding exactly:
 *
 * | file | what |
 * | --- | --- |
 * | {@link IDENTITY_FILE} | a small JSON marker `{format, schemaVersion, network, networkId}` written (atomically, by rename) before LMDB is first opened; it lets `open()` refuse a folder of another network without opening LMDB, so such a folder is left byte-for-byte unchanged (even LMDB's reader table in `lock.mdb` is rewritten by a read-only open) |
 * | `data.mdb` | the LMDB environment |
 * | `lock.mdb` | LMDB's reader lock table |
 *
 * A non-empty folder without the marker is never initialised into (a typo in a
 * path must not overwrite someone's files).
 *
 * ## Named databases
 *
 * Every value is raw bytes (lmdb-js `encoding: 'binary'`) in the codecs below,
 * integers little-endian as everywhere in `src/core`, except `meta` whose
 * values are UTF-8 strings so that an operator can read them. Hashes, txids
 * and account keys are stored as the 32 bytes their hex stands for (for block
 * hashes and txids: the bytes of the display hex, i.e. byte-reversed from the
 * internal order; the store never needs the internal order). Amounts and chain
 * work are exact integers, never floats.
 *
 * | database | key | value |
 * | --- | --- | --- |
 * | `meta` | {@link META_KEYS} (string) | string (see {@link META_KEYS}) |
 * | `blocks` | block hash (32 bytes) | `encodeBlock` bytes |
 * | `index` | block hash (32 bytes) | {@link encodeEntryValue}: header (80) ‖ height u32 ‖ chainWork length u8 ‖ chainWork big-endian |
 * | `heights` | height (lmdb-js `uint32` key) | main-chain block hash (32 bytes) |
 * | `accounts` | ed25519 public key (32 bytes) | {@link encodeAccount}: balance u64 ‖ nonce u64 (16 bytes) |
 * | `undo` | block hash (32 bytes) of a main-chain block | {@link encodeUndo}: count u32, then per account key (32) ‖ present u8 ‖ (if present) balance u64 ‖ nonce u64 |
 * | `txs` | txid (32 bytes) of a main-chain transaction | {@link encodeTxLocation}: block hash (32) ‖ index u32 |
 * | `invalid` | block hash (32 bytes) of a block found invalid | the reject code, UTF-8 (`src/core/reject.ts`) |
 *
 * Invariants after every write transaction: `meta.tip` names a block whose
 * `index` entry has the same height and chainWork, `heights` holds exactly
 * heights 0..tip.height along the tip's ancestry, `accounts` is the state after
 * applying those blocks, `undo` exists for each of them but genesis, and `txs`
 * indexes exactly their transactions.
 */
import { ByteReader, ByteWriter, DecodeError, fromHex, toHex } from '../core/encoding.js';
import { hashToHex } from '../core/hash.js';
import type { Block } from '../core/block.js';
import { HEADER_BYTES, encodeHeader, headerHashHex, readHeader } from '../core/header.js';
import { NETWORK_NAMES, type NetworkName } from '../core/params.js';
import type { Account } from '../core/state.js';
import { StoreError, type BlockIndexEntry, type ChainTip, type TxLocation } from './block-store.js';

/**
 * Version of this layout. A store written with another version is refused as
 * `corrupt` (there is no migration yet). Bump it on any change to this file.
 */
export const STORE_SCHEMA_VERSION = 1;

/** Value of `format` in the {@link IDENTITY_FILE}, marking a cheesechain store folder. */
export const STORE_FORMAT = 'cheesechain-lmdb-store';

/** The marker file of a store folder (see the module comment). */
export const IDENTITY_FILE = 'cheesechain-store.json';
/** Temporary name the marker is written under before its atomic rename. */
export const IDENTITY_TMP_FILE = `${IDENTITY_FILE}.tmp`;
/** LMDB's own files in the folder (lmdb-js subdir mode). */
export const LMDB_DATA_FILE = 'data.mdb';
export const LMDB_LOCK_FILE = 'lock.mdb';

/**
 * LMDB's meta page magic (`MDB_MAGIC`), a little-endian u32 right after the
 * page header of the first meta page of `data.mdb` (lmdb `mdb.c`): the header
 * is 16 bytes in LMDB 0.9.x and 24 bytes in the 0.9.90 branch lmdb-js builds
 * (it adds `mp_txnid`). Checked before handing a file to LMDB, which would
 * otherwise create `lock.mdb` beside any file.
 */
export const LMDB_MAGIC = 0xbeefc0de;
export const LMDB_MAGIC_OFFSETS = [16, 24] as const;

/** Names of the LMDB named databases. */
export const DB_NAMES = {
  meta: 'meta',
  blocks: 'blocks',
  index: 'index',
  heights: 'heights',
  accounts: 'accounts',
  undo: 'undo',
  txs: 'txs',
  invalid: 'invalid',
} as const;
/** Databases a store written before they existed may lack: created on open (additive, no schema change). */
export const OPTIONAL_DBS: readonly DbName[] = ['invalid'];
export type DbName = keyof typeof DB_NAMES;
/** lmdb-js `maxDbs`: room for the databases above. */
export const MAX_DBS = 12;

/**
 * Keys of the `meta` database and the form of their string values:
 * `schemaVersion` decimal ({@link STORE_SCHEMA_VERSION}); `network` a
 * {@link NetworkName}; `networkId` the genesis hash (display hex); `tip`
 * {@link encodeTip}.
 */
export const META_KEYS = {
  schemaVersion: 'schemaVersion',
  network: 'network',
  networkId: 'networkId',
  tip: 'tip',
} as const;

/** Contents of the {@link IDENTITY_FILE}. */
export interface StoreMarker {
  format: typeof STORE_FORMAT;
  schemaVersion: number;
  network: NetworkName;
  networkId: string;
}

export function encodeMarker(m: Omit<StoreMarker, 'format' | 'schemaVersion'>): string {
  const marker: StoreMarker = { format: STORE_FORMAT, schemaVersion: STORE_SCHEMA_VERSION, network: m.network, networkId: m.networkId };
  return JSON.stringify(marker, null, 2) + '\n';
}

/**
 * Parses the marker file.
 * @throws DecodeError when it is not the JSON of a {@link StoreMarker}
 *   (the schema version is returned as read; the caller compares it).
 */
export function decodeMarker(text: string): StoreMarker {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`${IDENTITY_FILE} is not JSON`, { cause: err });
  }
  if (typeof j !== 'object' || j === null) throw new DecodeError(`${IDENTITY_FILE} must hold an object`);
  const o = j as Record<string, unknown>;
  if (o.format !== STORE_FORMAT) throw new DecodeError(`${IDENTITY_FILE}: format must be "${STORE_FORMAT}"`);
  if (typeof o.schemaVersion !== 'number' || !Number.isSafeInteger(o.schemaVersion)) throw new DecodeError(`${IDENTITY_FILE}: schemaVersion must be an integer`);
  if (!(NETWORK_NAMES as readonly unknown[]).includes(o.network)) throw new DecodeError(`${IDENTITY_FILE}: network must be one of ${NETWORK_NAMES.join(', ')}`);
  fromHex(o.networkId as string, 32, `${IDENTITY_FILE}: networkId`);
  return { format: STORE_FORMAT, schemaVersion: o.schemaVersion, network: o.network as NetworkName, networkId: o.networkId as string };
}

/** Key of a block hash, txid or account key: the 32 bytes of its hex, or undefined when `hex` is not 64 lower-case hex characters. */
export function key32(hex: string): Buffer | undefined {
  if (typeof hex !== 'string' || !KEY_HEX_RE.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}

const KEY_HEX_RE = /^[0-9a-f]{64}$/;

/** Inverse of {@link key32}. */
export function hexOfKey(key: Uint8Array): string {
  return toHex(key);
}

/** `meta.tip` value: JSON `{"hash": display hex, "height": n, "chainWork": decimal string}`. */
export function encodeTip(tip: ChainTip): string {
  return JSON.stringify({ hash: tip.hash, height: tip.height, chainWork: tip.chainWork.toString() });
}

/** @throws DecodeError when the value is not an {@link encodeTip} string. */
export function decodeTip(text: string): ChainTip {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('meta.tip is not JSON', { cause: err });
  }
  const o = (typeof j === 'object' && j !== null ? j : {}) as Record<string, unknown>;
  if (key32(o.hash as string) === undefined) throw new DecodeError('meta.tip.hash must be 64 lower-case hex characters');
  if (typeof o.height !== 'number' || !Number.isInteger(o.height) || o.height < 0 || o.height > 0xffffffff) throw new DecodeError('meta.tip.height must be a u32');
  if (typeof o.chainWork !== 'string' || !/^(0|[1-9][0-9]*)$/.test(o.chainWork)) throw new DecodeError('meta.tip.chainWork must be a decimal string');
  return { hash: o.hash as string, height: o.height, chainWork: BigInt(o.chainWork) };
}

/** Largest chain work the entry codec holds: 255 bytes of magnitude. */
const MAX_WORK_BYTES = 255;

function bigintToBytesBE(v: bigint): Uint8Array {
  if (v < 0n) throw new RangeError('chainWork must be non-negative');
  const hex = v === 0n ? '' : v.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
  if (bytes.length > MAX_WORK_BYTES) throw new RangeError(`chainWork exceeds ${MAX_WORK_BYTES} bytes`);
  return bytes;
}

function bytesBEToBigint(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + toHex(b));
}

/** `index` value of an entry (the hash is the key, not repeated). */
export function encodeEntryValue(e: BlockIndexEntry): Uint8Array {
  const work = bigintToBytesBE(e.chainWork);
  return new ByteWriter(HEADER_BYTES + 4 + 1 + work.length).raw(encodeHeader(e.header)).u32(e.height).u8(work.length).raw(work).bytes;
}

/** @throws DecodeError on a malformed value. */
export function decodeEntryValue(hash: string, bytes: Uint8Array): BlockIndexEntry {
  const r = new ByteReader(bytes);
  const header = readHeader(r);
  const height = r.u32();
  const chainWork = bytesBEToBigint(r.raw(r.u8()));
  if (r.remaining !== 0) throw new DecodeError(`index entry ${hash}: ${r.remaining} trailing bytes`);
  return { hash, header, height, chainWork };
}

/** Size of an `accounts` value in bytes. */
export const ACCOUNT_BYTES = 16;

/**
 * `accounts` value: balance u64 ‖ nonce u64, little-endian. Written with
 * Buffer's own integer writers (a block writes thousands of these).
 * @throws RangeError when the balance or nonce is outside u64.
 */
export function encodeAccount(a: Account): Uint8Array {
  const out = Buffer.allocUnsafe(ACCOUNT_BYTES);
  writeAccount(out, 0, a);
  return out;
}

function writeAccount(out: Buffer, at: number, a: Account): void {
  out.writeBigUInt64LE(a.balance, at);
  out.writeBigUInt64LE(BigInt(a.nonce), at + 8);
}

/** @throws DecodeError on a malformed value. */
export function decodeAccount(bytes: Uint8Array): Account {
  if (bytes.length !== ACCOUNT_BYTES) throw new DecodeError(`account value must be ${ACCOUNT_BYTES} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, ACCOUNT_BYTES);
  const balance = view.getBigUint64(0, true);
  const nonce = view.getBigUint64(8, true);
  if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('account nonce exceeds 2^53-1');
  return { balance, nonce: Number(nonce) };
}

/**
 * `undo` value: the previous state of every account a block touched (`undefined`: it did not exist).
 * @throws RangeError when a key is not 64 lower-case hex characters.
 */
export function encodeUndo(undo: ReadonlyMap<string, Account | undefined>): Uint8Array {
  let size = 4;
  for (const prev of undo.values()) size += 32 + 1 + (prev ? ACCOUNT_BYTES : 0);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(undo.size, 0);
  let at = 4;
  for (const [key, prev] of undo) {
    checkAccountKey(key);
    at += out.write(key, at, 32, 'hex');
    out[at++] = prev ? 1 : 0;
    if (prev) {
      writeAccount(out, at, prev);
      at += ACCOUNT_BYTES;
    }
  }
  return out;
}

/** @throws DecodeError on a malformed value. */
export function decodeUndo(bytes: Uint8Array): Map<string, Account | undefined> {
  const r = new ByteReader(bytes);
  const n = r.u32();
  const out = new Map<string, Account | undefined>();
  for (let i = 0; i < n; i++) {
    const key = toHex(r.raw(32));
    const present = r.u8();
    if (present === 0) out.set(key, undefined);
    else if (present === 1) out.set(key, decodeAccount(r.raw(ACCOUNT_BYTES)));
    else throw new DecodeError(`undo record ${i}: present flag ${present}`);
  }
  if (r.remaining !== 0) throw new DecodeError(`undo value: ${r.remaining} trailing bytes`);
  return out;
}

/** Size of a `txs` value in bytes: block hash (32) ‖ index u32. */
export const TX_LOCATION_BYTES = 36;

export function encodeTxLocation(loc: TxLocation): Uint8Array {
  return new ByteWriter(TX_LOCATION_BYTES).raw(fromHex(loc.blockHash, 32, 'blockHash')).u32(loc.index).bytes;
}

/** @throws DecodeError on a malformed value. */
export function decodeTxLocation(bytes: Uint8Array): TxLocation {
  if (bytes.length !== TX_LOCATION_BYTES) throw new DecodeError(`tx location must be ${TX_LOCATION_BYTES} bytes, got ${bytes.length}`);
  const r = new ByteReader(bytes);
  return { blockHash: toHex(r.raw(32)), index: r.u32() };
}

/**
 * Guard of both stores' writes: the entry must describe the block (same
 * header hash). A mismatch is a caller bug.
 * @throws RangeError when they differ.
 */
export function checkEntryMatchesBlock(entry: BlockIndexEntry, block: Block): void {
  const hash = headerHashHex(block.header);
  if (hash !== entry.hash || headerHashHex(entry.header) !== hash) {
    throw new RangeError(`index entry ${entry.hash} does not match the block, which hashes to ${hash}`);
  }
}

/**
 * Guard of both stores' connects: `entry` must extend `tip` by one block and
 * match `block`. Returns the tip after it.
 * @throws StoreError `not-on-tip` when it does not extend the tip; RangeError when entry and block differ.
 */
export function checkExtendsTip(tip: ChainTip, entry: BlockIndexEntry, block: Block): ChainTip {
  const prevHash = hashToHex(entry.header.prevHash);
  if (prevHash !== tip.hash || entry.height !== tip.height + 1) {
    throw new StoreError('not-on-tip', `block ${entry.hash} at height ${entry.height} extends ${prevHash}, but the tip is ${tip.hash} at height ${tip.height}`);
  }
  checkEntryMatchesBlock(entry, block);
  return { hash: entry.hash, height: entry.height, chainWork: entry.chainWork };
}

const ACCOUNT_KEY_RE = /^[0-9a-f]{64}$/;

/** Guard of both stores' writes. @throws RangeError when `key` is not 64 lower-case hex characters. */
export function checkAccountKey(key: string): void {
  if (typeof key !== 'string' || !ACCOUNT_KEY_RE.test(key)) {
    throw new RangeError(`account key must be 64 lower-case hex characters, got ${JSON.stringify(String(key).slice(0, 70))}`);
  }
}
