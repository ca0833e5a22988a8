/**
 * Compact blocks (BIP 152): building the compact form, rebuilding it from the
 * receiver's transactions, asking for exactly the missing ones, and the cases
 * where the compact form is unusable.
 */
import t from 'tap';
import { blockTxIds, type BlockTxIds } from '../../src/core/block.js';
import { PartialBlock, compactBlockKey, shortTxId, toCompactBlock, type KnownTx } from '../../src/core/compact-block.js';
import { bytesEqual } from '../../src/core/encoding.js';
import { encodeHeader } from '../../src/core/header.js';
import { MAX_BLOCK_TXS } from '../../src/core/params.js';
import { txHash } from '../../src/core/transaction.js';
import { ChainBuilder, keyFromSeed, regtest } from '../helpers/chain-builder.js';

const b = new ChainBuilder(regtest, { miner: keyFromSeed(1) });
b.next();
const payees = Array.from({ length: 20 }, (_, i) => keyFromSeed(100 + i));
const { block } = b.next(payees.map((p) => b.pay(b.miner, p, 1_000n, 1n)));
const ids: BlockTxIds = blockTxIds(block);
const known = (i: number): KnownTx => ({ tx: block.txs[i]!, hash: ids.hashes[i]!, id: ids.ids[i]! });

t.test('the compact form carries the header, the coinbase prefilled and one short id per transfer', async (t) => {
  const c = toCompactBlock(block, ids, 12345);
  t.same(encodeHeader(c.header), encodeHeader(block.header));
  t.equal(c.prefilled.length, 1);
  t.equal(c.prefilled[0]!.index, 0);
  t.equal(c.prefilled[0]!.tx.type, 'coinbase');
  t.equal(c.shortIds.length, block.txs.length - 1);
  for (const id of c.shortIds) t.ok(Number.isInteger(id) && id >= 0 && id < 2 ** 48, 'a 48-bit short id');
  const key = compactBlockKey(block.header, 12345);
  t.equal(c.shortIds[3], shortTxId(key, ids.hashes[4]!));
  t.not(toCompactBlock(block, ids, 12346).shortIds[3], c.shortIds[3], 'another nonce gives other short ids');
});

t.test('a receiver holding every transfer rebuilds the block without asking', async (t) => {
  const p = PartialBlock.create(toCompactBlock(block, ids, 7), MAX_BLOCK_TXS, txHash);
  if (typeof p === 'string') throw new Error(p);
  // Unrelated candidates are ignored.
  const other = b.pay(b.miner, keyFromSeed(999), 5n);
  p.fill([...Array.from({ length: 20 }, (_, i) => known(i + 1)), { tx: other, hash: txHash(other), id: 'x' }]);
  t.same(p.missing(), []);
  const done = p.complete();
  t.ok(done);
  t.equal(done!.block.txs.length, block.txs.length);
  t.ok(done!.block.txs.every((tx, i) => tx === block.txs[i] || (i === 0 && tx.type === 'coinbase')));
  t.ok(done!.ids.hashes.every((h, i) => bytesEqual(h, ids.hashes[i]!)), 'the ids come along, not recomputed');
});

t.test('a receiver missing transfers asks for exactly those, in ascending order, and completes with them', async (t) => {
  const p = PartialBlock.create(toCompactBlock(block, ids, 8), MAX_BLOCK_TXS, txHash);
  if (typeof p === 'string') throw new Error(p);
  p.fill([known(2), known(5), known(6), known(20)]);
  const missing = p.missing();
  t.same(missing, [1, 3, 4, ...Array.from({ length: 13 }, (_, i) => 7 + i)]);
  t.equal(p.complete(), undefined);
  t.notOk(p.fillMissing(missing.slice(1).map(known)), 'a wrong count is refused');
  t.ok(p.fillMissing(missing.map(known)));
  t.ok(p.complete());
});

t.test('two candidates with one short id leave the slot missing (BIP 152: ask instead of guessing)', async (t) => {
  const p = PartialBlock.create(toCompactBlock(block, ids, 9), MAX_BLOCK_TXS, txHash);
  if (typeof p === 'string') throw new Error(p);
  const real = known(3);
  // A forged candidate claiming the same hash (so the same short id) but another id.
  p.fill([real, { ...real, id: 'f'.repeat(64) }]);
  t.ok(p.missing().includes(3));
});

t.test('unusable compact blocks are named', async (t) => {
  const c = toCompactBlock(block, ids, 10);
  t.equal(PartialBlock.create({ ...c, shortIds: [c.shortIds[0]!, ...c.shortIds.slice(0, -1)] }, MAX_BLOCK_TXS, txHash), 'duplicate-short-id');
  t.equal(PartialBlock.create({ ...c, prefilled: [{ index: block.txs.length, tx: block.txs[0]! }] }, MAX_BLOCK_TXS, txHash), 'bad-prefilled-index');
  t.equal(PartialBlock.create({ ...c, prefilled: [c.prefilled[0]!, c.prefilled[0]!] }, MAX_BLOCK_TXS, txHash), 'bad-prefilled-index');
  t.equal(PartialBlock.create(c, 5, txHash), 'too-many-transactions');
});
