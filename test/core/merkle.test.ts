/**
 * Bitcoin's merkle root: one leaf is the leaf, an odd last node pairs with
 * itself, SHA-256d over the concatenated children; checked against Bitcoin's
 * block 100000.
 */
import t from 'tap';
import { computeMerkleRoot } from '../../src/core/block.js';
import { concatBytes } from '../../src/core/encoding.js';
import { hashFromHex, hashToHex, sha256d, ZERO_HASH } from '../../src/core/hash.js';
import { merkleRoot } from '../../src/core/merkle.js';
import { txHash, type Transaction } from '../../src/core/transaction.js';

const leaf = (n: number): Uint8Array => sha256d(Uint8Array.of(n));
const pair = (a: Uint8Array, b: Uint8Array): Uint8Array => sha256d(concatBytes(a, b));

t.test('no leaves: 32 zero bytes', async (t) => {
  t.same(merkleRoot([]), ZERO_HASH);
});

t.test('one leaf: the root is the leaf itself', async (t) => {
  const a = leaf(1);
  t.same(merkleRoot([a]), a);
});

t.test('two leaves: SHA-256d of their concatenation', async (t) => {
  t.same(merkleRoot([leaf(1), leaf(2)]), pair(leaf(1), leaf(2)));
  t.notSame(merkleRoot([leaf(1), leaf(2)]), merkleRoot([leaf(2), leaf(1)]), 'order matters');
});

t.test('odd counts duplicate the last node on each level', async (t) => {
  const [a, b, c, d, e] = [leaf(1), leaf(2), leaf(3), leaf(4), leaf(5)];
  t.same(merkleRoot([a, b, c]), pair(pair(a, b), pair(c, c)), 'three leaves');
  const five = pair(pair(pair(a, b), pair(c, d)), pair(pair(e, e), pair(e, e)));
  t.same(merkleRoot([a, b, c, d, e]), five, 'five leaves: e pairs with itself, then (ee) with itself');
  // The known ambiguity (CVE-2012-2459): [a, b, c] and [a, b, c, c] share a
  // root; checkBlock closes it by rejecting duplicate transactions.
  t.same(merkleRoot([a, b, c, c]), merkleRoot([a, b, c]));
});

t.test("Bitcoin's block 100000: four txids give its merkle root", async (t) => {
  const txids = [
    '8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87',
    'fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4',
    '6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4',
    'e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d',
  ].map((h) => hashFromHex(h));
  t.equal(hashToHex(merkleRoot(txids)), 'f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766');
});

t.test('computeMerkleRoot is the merkle root over the transaction hashes, and leaves the input alone', async (t) => {
  const txs: Transaction[] = [0, 1, 2].map((height) => ({ type: 'coinbase', recipient: new Uint8Array(32).fill(height), amount: BigInt(height), height }));
  t.same(computeMerkleRoot(txs), merkleRoot(txs.map(txHash)));
  t.same(computeMerkleRoot(txs.slice(0, 1)), txHash(txs[0]!), 'one transaction: its txid');
  const leaves = [leaf(1), leaf(2), leaf(3)];
  const copy = leaves.map((l) => Uint8Array.from(l));
  merkleRoot(leaves);
  t.same(leaves, copy, 'input leaves unchanged');
});
