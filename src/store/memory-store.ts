import { decodeBlock, encodeBlock, type Block } from '../core/block.js';
import { hashToHex } from '../core/hash.js';
import { headerHashHex } from '../core/header.js';
import type { Account } from '../core/state.js';
import { txid } from '../core/transaction.js';
import { StoreError, type BlockConnect, type BlockIndexEntry, type BlockStore, type ChainTip, type StoreIdentity, type TxLocation } from './block-store.js';
import { checkAccountKey, checkEntryMatchesBlock, checkExtendsTip } from './keys.js';

/** The chain held by a {@link MemoryBlockStore}; survives `close()` so that a reopen continues from it. */
interface MemoryChain {
  network: StoreIdentity['network'];
  networkId: string;
  /** `encodeBlock` bytes by hash, so that callers never share mutable objects with the store. */
  blocks: Map<string, Uint8Array>;
  index: Map<string, BlockIndexEntry>;
  /** Main chain: hash at each height 0..tip.height. */
  heights: string[];
  accounts: Map<string, Account>;
  undo: Map<string, Map<string, Account | undefined>>;
  txs: Map<string, TxLocation>;
  invalid: Map<string, string>;
  tip: ChainTip;
}

/**
 * A {@link BlockStore} in Maps, with the semantics of `LmdbBlockStore` (same
 * compliance suite, `test/store/block-store.suite.ts`): every write is checked
 * before anything changes, so it applies entirely or not at all. For tests and
 * benchmarks; nothing is persisted beyond the object's life.
 */
export class MemoryBlockStore implements BlockStore {
  private chain: MemoryChain | undefined;
  private isOpen = false;

  async open(identity: StoreIdentity): Promise<void> {
    if (this.isOpen) throw new Error('memory store is already open');
    if (this.chain) {
      if (this.chain.network !== identity.network || this.chain.networkId !== identity.networkId) {
        throw new StoreError(
          'wrong-network',
          `memory store holds a ${this.chain.network} chain (network id ${this.chain.networkId}), not ${identity.network} (network id ${identity.networkId})`,
        );
      }
    } else {
      const { genesis, genesisEntry } = identity;
      if (headerHashHex(genesis.header) !== identity.networkId || genesisEntry.hash !== identity.networkId || genesisEntry.height !== 0) {
        throw new RangeError('store identity is inconsistent: genesis, networkId and genesisEntry must name the same block at height 0');
      }
      this.chain = {
        network: identity.network,
        networkId: identity.networkId,
        blocks: new Map([[genesisEntry.hash, encodeBlock(genesis)]]),
        index: new Map([[genesisEntry.hash, copyEntry(genesisEntry)]]),
        heights: [genesisEntry.hash],
        accounts: new Map(),
        undo: new Map(),
        txs: new Map(genesis.txs.map((tx, index) => [txid(tx), { blockHash: genesisEntry.hash, index }])),
        invalid: new Map(),
        tip: { hash: genesisEntry.hash, height: 0, chainWork: genesisEntry.chainWork },
      };
    }
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  async putBlock(entry: BlockIndexEntry, block: Block): Promise<void> {
    const c = this.live();
    checkEntryMatchesBlock(entry, block);
    c.blocks.set(entry.hash, encodeBlock(block));
    c.index.set(entry.hash, copyEntry(entry));
  }

  async markInvalid(blocks: ReadonlyArray<{ hash: string; code: string }>): Promise<void> {
    const c = this.live();
    for (const b of blocks) c.invalid.set(b.hash, b.code);
  }

  getInvalid(hash: string): string | undefined {
    return this.live().invalid.get(hash);
  }

  invalidBlocks(): Iterable<{ hash: string; code: string }> {
    return [...this.live().invalid].map(([hash, code]) => ({ hash, code }));
  }

  getBlock(hash: string): Block | undefined {
    const bytes = this.live().blocks.get(hash);
    return bytes && decodeBlock(bytes);
  }

  getBlockBytes(hash: string): Uint8Array | undefined {
    return this.live().blocks.get(hash)?.slice();
  }

  getEntry(hash: string): BlockIndexEntry | undefined {
    const e = this.live().index.get(hash);
    return e && copyEntry(e);
  }

  entries(): Iterable<BlockIndexEntry> {
    return [...this.live().index.values()].map(copyEntry);
  }

  getHashAtHeight(height: number): string | undefined {
    return Number.isInteger(height) && height >= 0 ? this.live().heights[height] : undefined;
  }

  getTip(): ChainTip {
    return { ...this.live().tip };
  }

  getAccount(key: string): Account | undefined {
    const a = this.live().accounts.get(key);
    return a && { ...a };
  }

  getTxLocation(id: string): TxLocation | undefined {
    const loc = this.live().txs.get(id);
    return loc && { ...loc };
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
    const c = this.live();
    let tip = c.tip;
    const prepared = blocks.map(({ entry, block, changes, undo, txids }) => {
      const next = checkExtendsTip(tip, entry, block);
      for (const key of changes.keys()) checkAccountKey(key);
      for (const key of undo.keys()) checkAccountKey(key);
      tip = next;
      return { entry, changes, undo, bytes: encodeBlock(block), ids: txids ?? block.txs.map(txid) };
    });
    // Nothing below can throw: the connect applies whole.
    for (const { entry, changes, undo, bytes, ids } of prepared) {
      c.blocks.set(entry.hash, bytes);
      c.index.set(entry.hash, copyEntry(entry));
      c.heights[entry.height] = entry.hash;
      for (const [key, acc] of changes) c.accounts.set(key, { balance: acc.balance, nonce: acc.nonce });
      c.undo.set(entry.hash, new Map([...undo].map(([k, v]) => [k, v && { balance: v.balance, nonce: v.nonce }])));
      ids.forEach((id, index) => c.txs.set(id, { blockHash: entry.hash, index }));
    }
    c.tip = tip;
  }

  async disconnectTip(): Promise<void> {
    const c = this.live();
    const { tip } = c;
    if (tip.height === 0) throw new StoreError('unknown-block', 'the genesis block cannot be disconnected');
    const restore = c.undo.get(tip.hash);
    if (!restore) throw new StoreError('unknown-block', `no undo data for the tip ${tip.hash}`);
    const bytes = c.blocks.get(tip.hash);
    if (!bytes) throw new StoreError('unknown-block', `the tip block ${tip.hash} is missing`);
    const block = decodeBlock(bytes);
    const parent = c.index.get(hashToHex(block.header.prevHash));
    if (!parent) throw new StoreError('unknown-block', `the parent of the tip ${tip.hash} is missing`);
    const ids = block.txs.map(txid);
    for (const [key, prev] of restore) {
      if (prev) c.accounts.set(key, prev);
      else c.accounts.delete(key);
    }
    c.heights.length = tip.height;
    for (const id of ids) if (c.txs.get(id)?.blockHash === tip.hash) c.txs.delete(id);
    c.undo.delete(tip.hash);
    c.tip = { hash: parent.hash, height: parent.height, chainWork: parent.chainWork };
  }

  private live(): MemoryChain {
    if (!this.isOpen || !this.chain) throw new StoreError('closed', 'memory store is not open');
    return this.chain;
  }
}

function copyEntry(e: BlockIndexEntry): BlockIndexEntry {
  return { hash: e.hash, header: { ...e.header, prevHash: e.header.prevHash.slice(), merkleRoot: e.header.merkleRoot.slice() }, height: e.height, chainWork: e.chainWork };
}
