/**
 * Test helpers that make real, valid chains: keys, signed transfers, mined
 * blocks (regtest difficulty: about two hashes per block), index entries, and
 * a {@link ChainBuilder} that tracks account state so that every block it
 * makes passes `checkBlock`, `checkHeaderContext` and `connectTransactions`,
 * and comes with the `changes`/`undo` maps `BlockStore.connectBlock` takes.
 *
 * The clock: blocks are stamped `parent.time + params.blockTimeSeconds`
 * (regtest genesis is at 1_795_000_000 s, which may be ahead of the real
 * clock), so contextual checks must be given `now` ≥ the block's time minus
 * `params.maxFutureSeconds`; {@link contextFor} does that.
 */
import { createPrivateKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { computeMerkleRoot, type Block } from '../../src/core/block.js';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex, hashFromHex } from '../../src/core/hash.js';
import { headerHashHex, type BlockHeader } from '../../src/core/header.js';
import { BLOCK_VERSION, NETWORKS, blockReward, type NetworkParams } from '../../src/core/params.js';
import { workFromBits } from '../../src/core/pow.js';
import { AccountOverlay, EMPTY_ACCOUNT, type Account, type AccountReader } from '../../src/core/state.js';
import { signingBytes, type CoinbaseTx, type TransferTx } from '../../src/core/transaction.js';
import { checkProofOfWork, connectTransactions, medianTimePast, nextBits, type ChainContext, type HeaderLike } from '../../src/core/validation.js';
import type { BlockIndexEntry, StoreIdentity } from '../../src/store/block-store.js';

/** Regtest parameters (trivial difficulty, no retarget). */
export const regtest: NetworkParams = NETWORKS.regtest;
/** Regtest network id: genesis hash, internal byte order (what `signTransfer` and `checkBlock` take). */
export const regtestId: Uint8Array = networkId(regtest);
/** Regtest network id, display hex (what stores and HELLO use). */
export const regtestIdHex: string = hashToHex(regtestId);

/** An ed25519 key pair (tweetnacl): `publicKey` 32 bytes, `secretKey` 64 bytes (seed ‖ public key). */
export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A fresh random key pair (tweetnacl). */
export function newKey(): KeyPair {
  return nacl.sign.keyPair();
}

/**
 * A fresh random key pair made by Node's native ed25519 (a hundred times
 * faster than tweetnacl; same key format). The DER encodings come out of the
 * key generation itself: exporting a just-made key as JWK can deadlock Node 20
 * when a garbage collection runs inside the export (the collected generation
 * job locks the key's mutex the export holds).
 */
export function fastKey(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
  // PKCS#8 and SPKI DER of an ed25519 key end with the 32-byte seed and the 32-byte public key (RFC 8410).
  const secretKey = new Uint8Array(64);
  secretKey.set(privateKey.subarray(privateKey.length - 32), 0);
  secretKey.set(publicKey.subarray(publicKey.length - 32), 32);
  return { publicKey: secretKey.slice(32), secretKey };
}

/** A deterministic key pair from a small number (for reproducible tests). */
export function keyFromSeed(n: number): KeyPair {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n >>> 0, true);
  seed[31] = 0xcc;
  return keyPairFromSeed(seed);
}

/** Account key (hex of the public key) as used by stores and `AccountOverlay`. */
export function keyHex(k: KeyPair | Uint8Array): string {
  return toHex(k instanceof Uint8Array ? k : k.publicKey);
}

/** The genesis index entry of a network. */
export function genesisEntry(params: NetworkParams): BlockIndexEntry {
  const genesis = genesisBlock(params);
  return { hash: headerHashHex(genesis.header), header: genesis.header, height: 0, chainWork: workFromBits(genesis.header.bits) };
}

/** What `BlockStore.open` takes for a network. */
export function storeIdentity(params: NetworkParams): StoreIdentity {
  const entry = genesisEntry(params);
  return { network: params.name, networkId: entry.hash, genesis: genesisBlock(params), genesisEntry: entry };
}

/** The index entry of `block` on top of `parent`: height + 1, chainWork = parent's + the block's work. */
export function childEntry(block: Block, parent: Pick<BlockIndexEntry, 'height' | 'chainWork'>): BlockIndexEntry {
  return { hash: headerHashHex(block.header), header: block.header, height: parent.height + 1, chainWork: parent.chainWork + workFromBits(block.header.bits) };
}

/** DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const nodeKeys = new Map<string, KeyObject>();

/**
 * Signs like `core/ed25519.ts`'s `sign` (tweetnacl) but with Node's native
 * ed25519, about a hundred times faster: ed25519 signatures are deterministic
 * (RFC 8032 §5.1.6), so both give the same 64 bytes (checked by
 * `test/store/memory-store.test.ts`). Tests sign thousands of transfers.
 */
export function fastSign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const seedHex = toHex(secretKey.subarray(0, 32));
  let key = nodeKeys.get(seedHex);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    nodeKeys.set(seedHex, key);
  }
  return new Uint8Array(nodeSign(null, message, key));
}

/** A signed transfer on `params`' network (same bytes as `signTransfer`, signed by {@link fastSign}). */
export function transfer(params: NetworkParams, from: KeyPair, to: KeyPair | Uint8Array, amount: bigint, nonce: number, fee = 0n): TransferTx {
  const recipient = to instanceof Uint8Array ? to : to.publicKey;
  const body = { sender: from.publicKey.slice(), recipient: recipient.slice(), amount, fee, nonce };
  return { type: 'transfer', ...body, signature: fastSign(signingBytes(networkId(params), body), from.secretKey) };
}

/** The parent a block is mined on: a `BlockIndexEntry` or anything with its hash, header and height. */
export interface ParentLike {
  hash: string;
  header: BlockHeader;
  height: number;
}

export interface MineBlockOptions {
  params: NetworkParams;
  prev: ParentLike;
  /** Transfers after the coinbase; their fees are added to the coinbase. */
  txs?: TransferTx[];
  /** Coinbase recipient, 32-byte ed25519 public key. */
  minerKey: Uint8Array;
  /** Header time, seconds. @default prev.header.time + params.blockTimeSeconds */
  time?: number;
  /** Compact bits. @default nextBits(prev, ancestor, params) */
  bits?: number;
  /** Main-chain lookup for retargeting (`nextBits`); without it, bits stay the parent's. */
  ancestor?: (height: number) => HeaderLike | undefined;
  /** Pays this much less than reward + fees (to test underpaying coinbases). @default 0n */
  coinbaseShortfall?: bigint;
}

/** Largest number of nonces tried before giving up (regtest needs ~2, devnet ~4 million). */
export const MAX_GRIND_NONCES = 0x1_0000_0000;

/**
 * Builds the block at `prev.height + 1`: a coinbase of reward + fees to
 * `minerKey`, the transfers, the merkle root, and a nonce ground until the
 * header meets its target. The transfers are not checked against any state.
 * @throws Error when no nonce of 32 bits works (change `time`).
 */
export function mineBlock(opts: MineBlockOptions): Block {
  const { params, prev } = opts;
  const height = prev.height + 1;
  const transfers = opts.txs ?? [];
  const fees = transfers.reduce((sum, tx) => sum + tx.fee, 0n);
  const coinbase: CoinbaseTx = { type: 'coinbase', recipient: opts.minerKey, amount: blockReward(params, height) + fees - (opts.coinbaseShortfall ?? 0n), height };
  const txs = [coinbase, ...transfers];
  const header: BlockHeader = {
    version: BLOCK_VERSION,
    prevHash: hashFromHex(prev.hash),
    merkleRoot: computeMerkleRoot(txs),
    time: opts.time ?? prev.header.time + params.blockTimeSeconds,
    bits: opts.bits ?? nextBits(prev, opts.ancestor ?? (() => undefined), params),
    nonce: 0,
  };
  for (let nonce = 0; nonce < MAX_GRIND_NONCES; nonce++) {
    header.nonce = nonce;
    if (checkProofOfWork(header, params).ok) return { header, txs };
  }
  throw new Error(`no nonce meets the target for block ${height}`);
}

/**
 * Grinds the nonce of an edited header until it meets its own target again,
 * so a test that corrupts a field (the merkle root, say) is refused for that
 * field and not, by chance, for `high-hash`.
 * @throws Error when no nonce of 32 bits works.
 */
export function regrind(header: BlockHeader, params: NetworkParams): BlockHeader {
  const h = { ...header };
  for (let nonce = 0; nonce < MAX_GRIND_NONCES; nonce++) {
    h.nonce = nonce;
    if (checkProofOfWork(h, params).ok) return h;
  }
  throw new Error('no nonce meets the target');
}

/** One block made by a {@link ChainBuilder}, with what `BlockStore.connectBlock` takes. */
export interface BuiltBlock {
  block: Block;
  entry: BlockIndexEntry;
  /** New state of each account the block touched. */
  changes: Map<string, Account>;
  /** State before the block (`undefined`: the account did not exist). */
  undo: Map<string, Account | undefined>;
}

/** A map of accounts readable as an {@link AccountReader}. */
class AccountMap implements AccountReader {
  readonly accounts = new Map<string, Account>();
  getAccount(key: string): Account | undefined {
    const a = this.accounts.get(key);
    return a && { ...a };
  }
}

export interface ChainBuilderOptions {
  /** Coinbase recipient of the blocks this builder mines. @default a new key */
  miner?: KeyPair;
}

/**
 * Grows one chain from genesis, keeping its account state, so that tests can
 * write `b.next([b.pay(b.miner, alice, 10n)])`. `fork(h)` starts a side branch
 * from height h (with another miner by default, so its blocks differ).
 */
export class ChainBuilder {
  readonly miner: KeyPair;
  /** The chain, genesis first (genesis has empty changes and undo). */
  readonly blocks: BuiltBlock[] = [];
  private readonly state = new AccountMap();
  /** Transfers signed by {@link pay} since the last block, per sender (for nonces). */
  private readonly pending = new Map<string, number>();

  constructor(readonly params: NetworkParams, opts: ChainBuilderOptions = {}) {
    this.miner = opts.miner ?? newKey();
    this.blocks.push({ block: genesisBlock(params), entry: genesisEntry(params), changes: new Map(), undo: new Map() });
  }

  /** The last block's entry. */
  get tip(): BlockIndexEntry {
    return this.blocks[this.blocks.length - 1]!.entry;
  }

  /** Blocks after genesis. */
  get built(): BuiltBlock[] {
    return this.blocks.slice(1);
  }

  /** Account state after the last block. */
  account(key: KeyPair | Uint8Array | string): Account {
    const hex = typeof key === 'string' ? key : keyHex(key);
    return this.state.getAccount(hex) ?? { ...EMPTY_ACCOUNT };
  }

  /** All accounts after the last block. */
  accounts(): Map<string, Account> {
    return new Map([...this.state.accounts].map(([k, v]) => [k, { ...v }]));
  }

  /** A transfer signed by `from` with its next nonce (counting transfers signed since the last block). */
  pay(from: KeyPair, to: KeyPair | Uint8Array, amount: bigint, fee = 0n): TransferTx {
    const key = keyHex(from);
    const done = this.pending.get(key) ?? 0;
    this.pending.set(key, done + 1);
    return transfer(this.params, from, to, amount, this.account(key).nonce + done, fee);
  }

  /** Main-chain lookup by height, for `nextBits`/`medianTimePast`. */
  ancestor = (height: number): HeaderLike | undefined => this.blocks[height]?.entry;

  /**
   * Mines the next block with `txs` (their fees go to the coinbase), applies
   * it to the state and returns it.
   * @throws Error when the transfers do not apply (bad nonce, balance…).
   */
  next(txs: TransferTx[] = [], opts: { time?: number; miner?: Uint8Array } = {}): BuiltBlock {
    const prev = this.tip;
    const mtp = medianTimePast(prev, this.ancestor);
    const time = opts.time ?? Math.max(prev.header.time + this.params.blockTimeSeconds, mtp + 1);
    const block = mineBlock({ params: this.params, prev, txs, minerKey: opts.miner ?? this.miner.publicKey, time, ancestor: this.ancestor });
    const built = this.apply(block);
    this.pending.clear();
    return built;
  }

  /** Mines `n` blocks; `txs(height)` gives each one's transfers. */
  extend(n: number, txs?: (height: number, builder: ChainBuilder) => TransferTx[]): BuiltBlock[] {
    const out: BuiltBlock[] = [];
    for (let i = 0; i < n; i++) out.push(this.next(txs ? txs(this.tip.height + 1, this) : []));
    return out;
  }

  /** A builder holding this chain up to `height`, to grow a side branch from there. */
  fork(height: number, opts: ChainBuilderOptions = {}): ChainBuilder {
    if (!Number.isInteger(height) || height < 0 || height > this.tip.height) throw new RangeError(`fork height ${height} is not on this chain (tip ${this.tip.height})`);
    const f = new ChainBuilder(this.params, opts);
    for (let h = 1; h <= height; h++) f.apply(this.blocks[h]!.block);
    return f;
  }

  /** The context `checkHeaderContext` needs for the block at `height` of this chain (clock = that block's time). */
  contextFor(height: number): ChainContext {
    return contextFor(this.params, this.blocks[height - 1]!.entry, this.ancestor, this.blocks[height]?.block.header.time);
  }

  private apply(block: Block): BuiltBlock {
    const parent = this.tip;
    const height = parent.height + 1;
    const overlay = new AccountOverlay(this.state);
    const maturedAt = height - this.params.coinbaseMaturity;
    const matured = maturedAt >= 1 ? (this.blocks[maturedAt]!.block.txs[0] as CoinbaseTx) : undefined;
    const v = connectTransactions(block, height, overlay, this.params, matured);
    if (!v.ok) throw new Error(`chain builder made an invalid block at height ${height}: ${v.code}: ${v.reason}`);
    for (const [k, a] of overlay.changed) this.state.accounts.set(k, { ...a });
    const built: BuiltBlock = { block, entry: childEntry(block, parent), changes: new Map(overlay.changed), undo: new Map(overlay.previous) };
    this.blocks.push(built);
    return built;
  }
}

/** Context for `checkHeaderContext` of a child of `prev`; `now` defaults to prev's time (the future-time rule then always passes for builder blocks). */
export function contextFor(params: NetworkParams, prev: HeaderLike, ancestor: (height: number) => HeaderLike | undefined, now?: number): ChainContext {
  return {
    height: prev.height + 1,
    expectedBits: nextBits(prev, ancestor, params),
    medianTimePast: medianTimePast(prev, ancestor),
    prevTime: prev.header.time,
    now: now ?? prev.header.time,
  };
}

export interface BuildChainOptions extends ChainBuilderOptions {
  /**
   * Transfers per block: after the first block (whose coinbase funds the
   * miner), each block carries this many transfers from the miner to
   * `recipients` in turn (amount 1000 + height base units, fee 10).
   * @default 0
   */
  transfersPerBlock?: number;
  /** Recipients of those transfers. @default three new keys */
  recipients?: KeyPair[];
}

/**
 * `n` consecutive valid blocks on top of genesis (heights 1..n), with their
 * entries, changes and undo maps, plus the builder for more.
 */
export function buildChain(params: NetworkParams, n: number, opts: BuildChainOptions = {}): { blocks: BuiltBlock[]; builder: ChainBuilder } {
  const builder = new ChainBuilder(params, opts);
  const perBlock = opts.transfersPerBlock ?? 0;
  const recipients = opts.recipients ?? [newKey(), newKey(), newKey()];
  let turn = 0;
  const blocks = builder.extend(n, (height, b) => {
    if (height === 1 || perBlock === 0) return [];
    const txs: TransferTx[] = [];
    for (let i = 0; i < perBlock; i++) txs.push(b.pay(b.miner, recipients[turn++ % recipients.length]!, 1000n + BigInt(height), 10n));
    return txs;
  });
  return { blocks, builder };
}
