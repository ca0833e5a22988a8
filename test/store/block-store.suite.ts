/**
 * The compliance suite every {@link BlockStore} passes (js-libp2p style: one
 * suite, run by `lmdb-store.test.ts` and `memory-store.test.ts`).
 */
import type { Test } from 'tap';
import { encodeBlock, type Block } from '../../src/core/block.js';
import { toHex } from '../../src/core/encoding.js';
import { genesisBlock } from '../../src/core/genesis.js';
import { headerHashHex } from '../../src/core/header.js';
import { MAX_MONEY } from '../../src/core/params.js';
import type { Account } from '../../src/core/state.js';
import { txid } from '../../src/core/transaction.js';
import { StoreError, type BlockIndexEntry, type BlockStore } from '../../src/store/block-store.js';
import { ChainBuilder, buildChain, genesisEntry, keyHex, newKey, regtest, regtestIdHex, storeIdentity, type BuiltBlock } from '../helpers/chain-builder.js';

/** Makes a new, unopened store; `t` is the subtest (for temporary folders). */
export type StoreFactory = (t: Test) => BlockStore | Promise<BlockStore>;

const identity = storeIdentity(regtest);

/** A fresh store opened for regtest, closed at the end of `t`. */
async function openStore(t: Test, factory: StoreFactory): Promise<BlockStore> {
  const store = await factory(t);
  await store.open(identity);
  t.teardown(() => store.close());
  return store;
}

async function connect(store: BlockStore, b: BuiltBlock): Promise<void> {
  await store.connectBlock(b.entry, b.block, b.changes, b.undo);
}

function blockHex(b: Block | undefined): string | undefined {
  return b && toHex(encodeBlock(b));
}

function entryView(e: BlockIndexEntry | undefined): unknown {
  return e && { hash: e.hash, headerHash: headerHashHex(e.header), height: e.height, chainWork: e.chainWork.toString() };
}

/** Every account key a chain ever touched. */
function touchedKeys(blocks: BuiltBlock[]): Set<string> {
  const keys = new Set<string>();
  for (const b of blocks) for (const k of b.changes.keys()) keys.add(k);
  return keys;
}

function accountsOf(store: BlockStore, keys: Iterable<string>): Record<string, { balance: string; nonce: number } | undefined> {
  const out: Record<string, { balance: string; nonce: number } | undefined> = {};
  for (const k of keys) {
    const a = store.getAccount(k);
    out[k] = a && { balance: a.balance.toString(), nonce: a.nonce };
  }
  return out;
}

function expectedAccounts(builder: ChainBuilder, keys: Iterable<string>): Record<string, { balance: string; nonce: number } | undefined> {
  const state = builder.accounts();
  const out: Record<string, { balance: string; nonce: number } | undefined> = {};
  for (const k of keys) {
    const a = state.get(k);
    out[k] = a && { balance: a.balance.toString(), nonce: a.nonce };
  }
  return out;
}

/** Asserts that the main chain of `store` is exactly `builder`'s chain: tip, height index, blocks, entries, tx locations. */
function assertMainChain(t: Test, store: BlockStore, builder: ChainBuilder): void {
  const tip = builder.tip;
  t.same(store.getTip(), { hash: tip.hash, height: tip.height, chainWork: tip.chainWork }, 'tip');
  for (const b of builder.blocks) {
    const h = b.entry.height;
    t.equal(store.getHashAtHeight(h), b.entry.hash, `height ${h} indexes its block`);
    t.equal(blockHex(store.getBlock(b.entry.hash)), blockHex(b.block), `block ${h} reads back`);
    t.equal(toHex(store.getBlockBytes(b.entry.hash)!), toHex(encodeBlock(b.block)), `block ${h} bytes read back`);
    t.same(entryView(store.getEntry(b.entry.hash)), entryView(b.entry), `entry ${h} reads back`);
    b.block.txs.forEach((tx, index) => {
      t.same(store.getTxLocation(txid(tx)), { blockHash: b.entry.hash, index }, `tx ${index} of block ${h} is located`);
    });
  }
  t.equal(store.getHashAtHeight(tip.height + 1), undefined, 'nothing above the tip');
}

/**
 * Runs the suite against stores from `factory`.
 * @param name shown in the test names.
 */
export function blockStoreSuite(t: Test, name: string, factory: StoreFactory): void {
  t.test(`${name}: open initialises the genesis block as tip`, async (t) => {
    const store = await openStore(t, factory);
    const g = genesisEntry(regtest);
    t.same(store.getTip(), { hash: regtestIdHex, height: 0, chainWork: g.chainWork });
    t.equal(store.getHashAtHeight(0), regtestIdHex);
    t.equal(store.getHashAtHeight(1), undefined);
    t.equal(store.getHashAtHeight(-1), undefined);
    t.equal(store.getHashAtHeight(1.5), undefined);
    t.equal(blockHex(store.getBlock(regtestIdHex)), blockHex(genesisBlock(regtest)));
    t.same(entryView(store.getEntry(regtestIdHex)), entryView(g));
    t.same([...store.entries()].map(entryView), [entryView(g)]);
    t.same(store.getTxLocation(txid(genesisBlock(regtest).txs[0]!)), { blockHash: regtestIdHex, index: 0 });
    t.equal(store.getAccount(toHex(new Uint8Array(32))), undefined, 'the genesis coinbase (0 to the zero key) is not credited');
    t.equal(store.getBlock('00'.repeat(32)), undefined, 'unknown block');
    t.equal(store.getBlock('not hex'), undefined, 'malformed hash reads as unknown');
    t.equal(store.getAccount('XYZ'), undefined, 'malformed key reads as unknown');
    t.equal(store.getTxLocation('ab'), undefined, 'malformed txid reads as unknown');
  });

  t.test(`${name}: connects blocks with transfers and reads everything back`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks, builder } = buildChain(regtest, 8, { transfersPerBlock: 3 });
    for (const b of blocks) await connect(store, b);
    assertMainChain(t, store, builder);
    const keys = touchedKeys(blocks);
    t.equal(keys.size, 4, 'miner and three recipients');
    t.same(accountsOf(store, keys), expectedAccounts(builder, keys), 'accounts');
    t.equal(store.getAccount(keyHex(newKey())), undefined, 'an untouched account does not exist');
  });

  t.test(`${name}: connectBlocks writes a batch of blocks as one, and the batch disconnects block by block`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks, builder } = buildChain(regtest, 9, { transfersPerBlock: 3 });
    const keys = touchedKeys(blocks);
    await store.connectBlocks(blocks.slice(0, 4));
    t.equal(store.getTip().height, 4, 'the first batch');
    await store.connectBlocks(blocks.slice(4).map((b) => ({ ...b, txids: b.block.txs.map(txid) })));
    assertMainChain(t, store, builder);
    t.same(accountsOf(store, keys), expectedAccounts(builder, keys), 'accounts after the batches');
    await t.rejects(store.connectBlocks([blocks[0]!]), { name: 'StoreError', code: 'ERR_STORE', reason: 'not-on-tip' });
    await store.connectBlocks([]);
    t.equal(store.getTip().height, 9, 'an empty batch changes nothing');
    for (let i = 0; i < 5; i++) await store.disconnectTip();
    t.equal(store.getTip().hash, blocks[3]!.entry.hash, 'undo data of each batched block is its own');
    t.same(accountsOf(store, keys), expectedAccounts(builder.fork(4), keys), 'accounts as after block 4');
  });

  t.test(`${name}: a batch that breaks the chain part-way writes nothing`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks } = buildChain(regtest, 4, { transfersPerBlock: 1 });
    await t.rejects(store.connectBlocks([blocks[0]!, blocks[2]!]), { name: 'StoreError', code: 'ERR_STORE', reason: 'not-on-tip' });
    t.equal(store.getTip().height, 0);
    t.equal(store.getHashAtHeight(1), undefined);
  });

  t.test(`${name}: disconnectTip restores accounts exactly, including accounts that did not exist`, async (t) => {
    const store = await openStore(t, factory);
    const builder = new ChainBuilder(regtest);
    const alice = newKey();
    const bob = newKey();
    builder.next();
    builder.next([builder.pay(builder.miner, alice, 5_000n, 7n)]);
    builder.next([builder.pay(alice, bob, 1_000n, 3n), builder.pay(builder.miner, bob, 2n, 1n)]);
    builder.next([builder.pay(bob, alice, 500n), builder.pay(alice, newKey(), 1n, 1n)]);
    const blocks = builder.built;
    const keys = touchedKeys(blocks);
    const snapshots: ReturnType<typeof accountsOf>[] = [];
    for (const b of blocks) {
      snapshots.push(accountsOf(store, keys));
      await connect(store, b);
    }
    t.same(accountsOf(store, keys), expectedAccounts(builder, keys));
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i]!;
      await store.disconnectTip();
      t.same(accountsOf(store, keys), snapshots[i], `accounts after disconnecting height ${b.entry.height}`);
      t.same(store.getTip(), { hash: hashOfParent(builder, i + 1), height: i, chainWork: builder.blocks[i]!.entry.chainWork }, 'tip moves to the parent');
      t.equal(store.getHashAtHeight(b.entry.height), undefined, 'height index entry removed');
      for (const tx of b.block.txs) t.equal(store.getTxLocation(txid(tx)), undefined, 'transaction index entry removed');
      t.equal(blockHex(store.getBlock(b.entry.hash)), blockHex(b.block), 'the block stays stored');
      t.same(entryView(store.getEntry(b.entry.hash)), entryView(b.entry), 'its entry stays stored');
    }
    t.same(Object.values(accountsOf(store, keys)).filter((a) => a !== undefined), [], 'back at genesis no account exists');
    await t.rejects(store.disconnectTip(), { name: 'StoreError', code: 'ERR_STORE', reason: 'unknown-block' }, 'genesis cannot be disconnected');
    // The same blocks connect again on top of genesis.
    for (const b of blocks) await connect(store, b);
    assertMainChain(t, store, builder);
    t.same(accountsOf(store, keys), expectedAccounts(builder, keys));
  });

  t.test(`${name}: a reorg by the caller onto a side branch and back`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks: a, builder: A } = buildChain(regtest, 5, { transfersPerBlock: 2 });
    const B = A.fork(2);
    const carol = newKey();
    B.next([B.pay(A.miner, carol, 777n, 5n)]);
    B.extend(3, (_h, b) => [b.pay(b.miner, carol, 100n)]);
    const b = B.blocks.slice(3);
    t.ok(B.tip.chainWork > A.tip.chainWork, 'the side branch is heavier');
    const keys = new Set([...touchedKeys(a), ...touchedKeys(B.built)]);

    for (const blk of a) await connect(store, blk);
    for (const blk of b.slice(0, 2)) await store.putBlock(blk.entry, blk.block);
    // Reorg: disconnect back to the fork point, connect the branch.
    while (store.getTip().height > 2) await store.disconnectTip();
    for (const blk of b) await connect(store, blk);
    assertMainChain(t, store, B);
    t.same(accountsOf(store, keys), expectedAccounts(B, keys), 'accounts are the branch\'s');
    for (const blk of a.slice(2)) {
      t.equal(blockHex(store.getBlock(blk.entry.hash)), blockHex(blk.block), `old block ${blk.entry.height} still readable`);
      for (const tx of blk.block.txs) t.equal(store.getTxLocation(txid(tx)), undefined, 'old branch transactions are not indexed');
    }
    t.equal(new Set([...store.entries()].map((e) => e.hash)).size, 1 + 5 + 4, 'entries hold both branches');

    // And back: the old branch becomes heavier again.
    const more = A.extend(3);
    while (store.getTip().height > 2) await store.disconnectTip();
    for (const blk of [...a.slice(2), ...more]) await connect(store, blk);
    assertMainChain(t, store, A);
    t.same(accountsOf(store, keys), expectedAccounts(A, keys), 'accounts are the first branch\'s again');
  });

  t.test(`${name}: connectBlock refuses a block that does not extend the tip`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks, builder } = buildChain(regtest, 3);
    const side = builder.fork(0).extend(1)[0]!;
    await t.rejects(connect(store, blocks[1]!), { name: 'StoreError', code: 'ERR_STORE', reason: 'not-on-tip' }, 'a block two above the tip');
    await connect(store, blocks[0]!);
    await t.rejects(connect(store, side), { name: 'StoreError', code: 'ERR_STORE', reason: 'not-on-tip' }, 'a sibling of the tip');
    await t.rejects(connect(store, blocks[0]!), { name: 'StoreError', code: 'ERR_STORE', reason: 'not-on-tip' }, 'the tip again');
    const err = await connect(store, side).catch((e: unknown) => e);
    t.ok(err instanceof StoreError, 'a StoreError instance');
    t.match((err as Error).message, blocks[0]!.entry.hash, 'the message names the tip');
    t.same(store.getTip(), { hash: blocks[0]!.entry.hash, height: 1, chainWork: blocks[0]!.entry.chainWork }, 'the tip did not move');
    t.equal(store.getHashAtHeight(2), undefined);
    t.equal(store.getBlock(side.entry.hash), undefined, 'a refused block is not stored');
    await connect(store, blocks[1]!);
    await connect(store, blocks[2]!);
    assertMainChain(t, store, builder);
  });

  t.test(`${name}: putBlock stores a side-branch block off the height index`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks, builder } = buildChain(regtest, 2);
    for (const b of blocks) await connect(store, b);
    const side = builder.fork(1).extend(2);
    for (const b of side) {
      await store.putBlock(b.entry, b.block);
      await store.putBlock(b.entry, b.block); // idempotent
    }
    for (const b of side) {
      t.equal(blockHex(store.getBlock(b.entry.hash)), blockHex(b.block), `side block ${b.entry.height} readable`);
      t.same(entryView(store.getEntry(b.entry.hash)), entryView(b.entry), `side entry ${b.entry.height} readable`);
      for (const tx of b.block.txs) t.equal(store.getTxLocation(txid(tx)), undefined, 'its transactions are not indexed');
    }
    t.equal(store.getHashAtHeight(2), blocks[1]!.entry.hash, 'the main chain keeps height 2');
    t.equal(store.getHashAtHeight(3), undefined, 'the longer side branch is not indexed');
    t.same(store.getTip().hash, blocks[1]!.entry.hash);
    const all = [...store.entries()].map(entryView).sort((x, y) => String((x as { hash: string }).hash).localeCompare((y as { hash: string }).hash));
    const expected = [genesisEntry(regtest), ...blocks.map((b) => b.entry), ...side.map((b) => b.entry)].map(entryView).sort((x, y) => String((x as { hash: string }).hash).localeCompare((y as { hash: string }).hash));
    t.same(all, expected, 'entries() lists genesis, main chain and side branch');
    await t.rejects(store.putBlock(side[0]!.entry, blocks[0]!.block), RangeError, 'an entry that does not describe its block is a caller bug');
  });

  t.test(`${name}: amounts and chain work are stored exactly`, async (t) => {
    const store = await openStore(t, factory);
    const { blocks } = buildChain(regtest, 1);
    const b = blocks[0]!;
    const whale = keyHex(newKey());
    const changes = new Map<string, Account>([...b.changes, [whale, { balance: MAX_MONEY - 1n, nonce: Number.MAX_SAFE_INTEGER }]]);
    const undo = new Map<string, Account | undefined>([...b.undo, [whale, undefined]]);
    await store.connectBlock(b.entry, b.block, changes, undo);
    t.same(store.getAccount(whale), { balance: MAX_MONEY - 1n, nonce: Number.MAX_SAFE_INTEGER }, 'a balance above 2^53 and the largest nonce');
    const side = new ChainBuilder(regtest).next();
    const bigWork = (1n << 300n) + 12345678901234567890n;
    await store.putBlock({ ...side.entry, chainWork: bigWork }, side.block);
    t.equal(store.getEntry(side.entry.hash)!.chainWork, bigWork, 'chain work beyond 256 bits');
    await store.disconnectTip();
    t.equal(store.getAccount(whale), undefined);
  });

  t.test(`${name}: a closed store refuses reads and writes; close is idempotent`, async (t) => {
    const store = await factory(t);
    t.throws(() => store.getTip(), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' }, 'before open');
    await store.open(identity);
    await store.close();
    await store.close();
    t.throws(() => store.getTip(), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    t.throws(() => store.getBlock(regtestIdHex), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    t.throws(() => store.getAccount('00'.repeat(32)), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    t.throws(() => [...store.entries()], { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    const { blocks } = buildChain(regtest, 1);
    await t.rejects(connect(store, blocks[0]!), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    await t.rejects(store.disconnectTip(), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
    await t.rejects(store.putBlock(blocks[0]!.entry, blocks[0]!.block), { name: 'StoreError', code: 'ERR_STORE', reason: 'closed' });
  });
}

function hashOfParent(builder: ChainBuilder, height: number): string {
  return builder.blocks[height - 1]!.entry.hash;
}
