/**
 * Block codecs: the binary form of the store and the JSON form of the wire
 * and the API, with their limits.
 */
import t from 'tap';
import { blockFromJson, blockHash, blockSize, blockToJson, computeMerkleRoot, decodeBlock, encodeBlock, type Block } from '../../src/core/block.js';
import { keyPairFromSeed } from '../../src/core/ed25519.js';
import { ByteWriter } from '../../src/core/encoding.js';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { HEADER_BYTES, encodeHeader, headerHash } from '../../src/core/header.js';
import { BLOCK_VERSION, COIN, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, NETWORKS } from '../../src/core/params.js';
import { COINBASE_BYTES, TRANSFER_BYTES, encodeTx, signTransfer, type Transaction } from '../../src/core/transaction.js';

const regtest = NETWORKS.regtest;
const alice = keyPairFromSeed(new Uint8Array(32).fill(3));
const bob = keyPairFromSeed(new Uint8Array(32).fill(4));
const txs: Transaction[] = [
  { type: 'coinbase', recipient: alice.publicKey, amount: 50n * COIN + 3n, height: 1 },
  signTransfer(networkId(regtest), { recipient: bob.publicKey, amount: 10n, fee: 1n, nonce: 0 }, alice.secretKey),
  signTransfer(networkId(regtest), { recipient: bob.publicKey, amount: 20n, fee: 2n, nonce: 1 }, alice.secretKey),
];
const block: Block = {
  header: { version: BLOCK_VERSION, prevHash: networkId(regtest), merkleRoot: computeMerkleRoot(txs), time: regtest.genesisTime + 1, bits: regtest.genesisBits, nonce: 42 },
  txs,
};

t.test('binary round trip; size = header + u32 count + transactions', async (t) => {
  const bytes = encodeBlock(block);
  t.equal(bytes.length, blockSize(block));
  t.equal(blockSize(block), HEADER_BYTES + 4 + COINBASE_BYTES + 2 * TRANSFER_BYTES);
  t.same(bytes.subarray(0, HEADER_BYTES), encodeHeader(block.header), 'the header comes first');
  t.same(decodeBlock(bytes), block);
  t.same(blockHash(decodeBlock(bytes)), headerHash(block.header));
  const g = genesisBlock(regtest);
  t.same(decodeBlock(encodeBlock(g)), g, 'genesis');
});

t.test('JSON round trip through a string', async (t) => {
  const json = JSON.parse(JSON.stringify(blockToJson(block)));
  t.same(Object.keys(json).sort(), ['header', 'transactions']);
  t.same(blockFromJson(json), block);
});

t.test('decodeBlock refuses too many transactions, too many bytes, missing and trailing bytes', async (t) => {
  const err = { name: 'DecodeError', code: 'ERR_DECODE' };
  const bytes = encodeBlock(block);
  t.throws(() => decodeBlock(Uint8Array.of(...bytes, 0)), { ...err, message: /trailing/ });
  t.throws(() => decodeBlock(bytes.subarray(0, bytes.length - 1)), err, 'truncated');
  t.throws(() => decodeBlock(bytes.subarray(0, HEADER_BYTES)), err, 'no count');
  const claims = new ByteWriter(HEADER_BYTES + 4).raw(encodeHeader(block.header)).u32(MAX_BLOCK_TXS + 1).bytes;
  t.throws(() => decodeBlock(claims), { ...err, message: /claims 6001 transactions/ }, 'a count above MAX_BLOCK_TXS is refused before reading');
  const huge = new Uint8Array(MAX_BLOCK_BYTES + 1);
  t.throws(() => decodeBlock(huge), { ...err, message: /exceeds/ }, 'more than MAX_BLOCK_BYTES is refused before parsing');
});

t.test('blockFromJson names the transaction that is bad', async (t) => {
  const json = blockToJson(block);
  t.throws(() => blockFromJson({ ...json, transactions: [json.transactions[0], { ...json.transactions[1], amount: 10 }] }), {
    name: 'DecodeError',
    message: /block\.transactions\[1\]: transaction\.amount/,
  });
  t.throws(() => blockFromJson({ header: json.header }), { message: /block\.transactions must be an array/ });
  t.throws(() => blockFromJson({ header: json.header, transactions: new Array(MAX_BLOCK_TXS + 1).fill(json.transactions[0]) }), { message: /limit 6000/ });
  t.throws(() => blockFromJson([]), { message: /block must be an object/ });
  t.throws(() => blockFromJson({ ...json, header: { ...json.header, bits: -1 } }), { message: /header\.bits/ });
});

t.test('a block of MAX_BLOCK_TXS transfers fits in MAX_BLOCK_BYTES', async (t) => {
  // So the transaction-count limit always binds first and the byte limit is a
  // backstop against larger transaction kinds.
  const largest = HEADER_BYTES + 4 + COINBASE_BYTES + (MAX_BLOCK_TXS - 1) * TRANSFER_BYTES;
  t.ok(largest <= MAX_BLOCK_BYTES, `${largest} ≤ ${MAX_BLOCK_BYTES}`);
  t.equal(encodeTx(txs[1]!).length, TRANSFER_BYTES);
});
