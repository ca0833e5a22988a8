/**
 * The 80-byte header (Bitcoin's layout, design "Consensus"): codec
 * round-trips, Bitcoin's genesis and block 1 as known vectors, the JSON form,
 * and one pinned genesis per network.
 */
import t from 'tap';
import { DecodeError, fromHex, toHex } from '../../src/core/encoding.js';
import { genesisBlock, networkId, networkParams } from '../../src/core/genesis.js';
import { hashFromHex, hashToHex, sha256d, ZERO_HASH } from '../../src/core/hash.js';
import {
  HEADER_BYTES,
  decodeHeader,
  encodeHeader,
  headerFromJson,
  headerHash,
  headerHashHex,
  headerToJson,
  type BlockHeader,
} from '../../src/core/header.js';
import { NETWORKS, NETWORK_NAMES, type NetworkParams } from '../../src/core/params.js';
import { hashMeetsTarget, targetFromBits, workFromBits } from '../../src/core/pow.js';
import { checkProofOfWork } from '../../src/core/validation.js';
import { computeMerkleRoot } from '../../src/core/block.js';

/** Bitcoin's genesis header: the 80 bytes and the fields (block explorer / `chainparams.cpp`). */
const BITCOIN_GENESIS_HEX =
  '01000000' +
  '0000000000000000000000000000000000000000000000000000000000000000' +
  '3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a' +
  '29ab5f49' +
  'ffff001d' +
  '1dac2b7c';
const BITCOIN_GENESIS: BlockHeader = {
  version: 1,
  prevHash: ZERO_HASH,
  merkleRoot: hashFromHex('4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b'),
  time: 1231006505,
  bits: 0x1d00ffff,
  nonce: 2083236893,
};
const BITCOIN_GENESIS_HASH = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';

/** Bitcoin's block 1 in the JSON form (display hex, as explorers show it). */
const BITCOIN_BLOCK1_JSON = {
  version: 1,
  prevHash: BITCOIN_GENESIS_HASH,
  merkleRoot: '0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098',
  time: 1231469665,
  bits: 0x1d00ffff,
  nonce: 2573394689,
};
const BITCOIN_BLOCK1_HASH = '00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048';

/**
 * The genesis ids of today's parameters. Changing them forks every network:
 * update only together with `params.ts`, on purpose.
 */
const GENESIS_IDS: Record<string, string> = {
  mainnet: 'f52ca4e14fc6e36bde76b7af4e0b87ed665dd9df7f804747b4f8a0dfd2b3539a',
  devnet: '93e857d070b1d838165303b0dc404bb67281ad463be90b329bd428ae770ff643',
  regtest: '9760b29395557b984fcb04f1b5e1e0e7e2f2c9e43b05e297cb06bc5c2a93ed79',
};

/** Bitcoin's consensus numbers, as a NetworkParams, for checkProofOfWork. */
const BITCOIN_LIKE: NetworkParams = { ...NETWORKS.mainnet, powLimit: (1n << 224n) - 1n };

t.test("Bitcoin's genesis header encodes to its 80 bytes and hashes to 000000000019d668…", async (t) => {
  const bytes = encodeHeader(BITCOIN_GENESIS);
  t.equal(bytes.length, HEADER_BYTES);
  t.equal(toHex(bytes), BITCOIN_GENESIS_HEX);
  t.equal(headerHashHex(BITCOIN_GENESIS), BITCOIN_GENESIS_HASH);
  t.equal(hashToHex(sha256d(fromHex(BITCOIN_GENESIS_HEX))), BITCOIN_GENESIS_HASH, 'block hash = SHA-256d of the 80 bytes, shown byte-reversed');
  t.same(decodeHeader(fromHex(BITCOIN_GENESIS_HEX)), BITCOIN_GENESIS, 'decodes back to the same fields');
});

t.test("Bitcoin's genesis meets its own target; the hash is read little-endian", async (t) => {
  const target = targetFromBits(BITCOIN_GENESIS.bits, BITCOIN_LIKE.powLimit);
  t.equal(target, 0xffffn << 208n);
  t.ok(hashMeetsTarget(headerHash(BITCOIN_GENESIS), target!));
  t.same(checkProofOfWork(BITCOIN_GENESIS, BITCOIN_LIKE), { ok: true });
  t.equal(workFromBits(BITCOIN_GENESIS.bits), 0x100010001n, "Bitcoin's genesis chain work (getblock 0: chainwork …0100010001)");
  const other = { ...BITCOIN_GENESIS, nonce: BITCOIN_GENESIS.nonce + 1 };
  t.match(checkProofOfWork(other, BITCOIN_LIKE), { ok: false, code: 'high-hash' }, 'another nonce misses the target');
});

t.test("Bitcoin's block 1 from its JSON form: prevHash in display hex links to genesis", async (t) => {
  const h = headerFromJson(BITCOIN_BLOCK1_JSON);
  t.same(h.prevHash, headerHash(BITCOIN_GENESIS), 'prevHash (internal order) is the genesis hash');
  t.equal(headerHashHex(h), BITCOIN_BLOCK1_HASH);
  t.same(headerToJson(h), BITCOIN_BLOCK1_JSON, 'JSON round trip');
  t.same(checkProofOfWork(h, BITCOIN_LIKE), { ok: true });
});

t.test('binary and JSON round trips keep every field, extremes included', async (t) => {
  const headers: BlockHeader[] = [
    { version: 0, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 0, bits: 0, nonce: 0 },
    { version: 0xffffffff, prevHash: new Uint8Array(32).fill(0xff), merkleRoot: new Uint8Array(32).fill(0xee), time: 0xffffffff, bits: 0xffffffff, nonce: 0xffffffff },
    { version: 1, prevHash: Uint8Array.from({ length: 32 }, (_, i) => i), merkleRoot: Uint8Array.from({ length: 32 }, (_, i) => 255 - i), time: 1_795_000_123, bits: 0x207fffff, nonce: 0x12345678 },
  ];
  for (const h of headers) {
    const bytes = encodeHeader(h);
    t.equal(bytes.length, HEADER_BYTES);
    t.same(decodeHeader(bytes), h, 'binary');
    t.same(headerFromJson(JSON.parse(JSON.stringify(headerToJson(h)))), h, 'JSON through a string');
    t.equal(headerHashHex(decodeHeader(bytes)), headerHashHex(h), 'same hash after a round trip');
  }
  // Field order and endianness: version, prevHash, merkleRoot, time, bits, nonce, little-endian.
  const bytes = encodeHeader(headers[2]!);
  t.equal(toHex(bytes.subarray(0, 4)), '01000000');
  t.equal(bytes[4], 0, 'prevHash starts at byte 4, internal order');
  t.equal(bytes[36], 255, 'merkleRoot starts at byte 36');
  t.equal(toHex(bytes.subarray(72, 76)), 'ffff7f20', 'bits little-endian at byte 72');
  t.equal(toHex(bytes.subarray(76, 80)), '78563412', 'nonce little-endian at byte 76');
});

t.test('decodeHeader refuses any length but 80 bytes', async (t) => {
  for (const n of [0, 79, 81, 160]) {
    t.throws(() => decodeHeader(new Uint8Array(n)), { name: 'DecodeError', code: 'ERR_DECODE' }, `${n} bytes`);
  }
});

t.test('headerFromJson names the first bad field', async (t) => {
  const good = headerToJson(BITCOIN_GENESIS);
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'header', /header must be an object/],
    ['array', [], /header must be an object/],
    ['null', null, /header must be an object/],
    ['negative version', { ...good, version: -1 }, /header\.version/],
    ['fractional time', { ...good, time: 1.5 }, /header\.time/],
    ['time above u32', { ...good, time: 2 ** 32 }, /header\.time/],
    ['bits as string', { ...good, bits: '0x1d00ffff' }, /header\.bits/],
    ['nonce missing', { ...good, nonce: undefined }, /header\.nonce/],
    ['short prevHash', { ...good, prevHash: 'abcd' }, /header\.prevHash/],
    ['upper-case merkleRoot', { ...good, merkleRoot: good.merkleRoot.toUpperCase() }, /header\.merkleRoot/],
    ['merkleRoot as number', { ...good, merkleRoot: 5 }, /header\.merkleRoot/],
  ];
  for (const [name, json, message] of bad) {
    t.throws(() => headerFromJson(json), { name: 'DecodeError', message }, name);
  }
  t.ok(new DecodeError('x') instanceof Error);
});

t.test('one genesis per network: fixed parameters, valid merkle root, distinct pinned ids', async (t) => {
  // Pinned: a change here makes a new, incompatible network (every signature commits to it).
  const pinned: Record<string, string> = {};
  const ids = new Set<string>();
  for (const name of NETWORK_NAMES) {
    const params = networkParams(name);
    const g = genesisBlock(params);
    t.equal(g.header.time, params.genesisTime, `${name}: genesis time`);
    t.equal(g.header.bits, params.genesisBits, `${name}: genesis bits`);
    t.same(g.header.prevHash, ZERO_HASH, `${name}: prevHash zero`);
    t.same(g.header.merkleRoot, computeMerkleRoot(g.txs), `${name}: merkle root`);
    t.same(g.txs, [{ type: 'coinbase', recipient: new Uint8Array(32), amount: 0n, height: 0 }], `${name}: one zero coinbase`);
    t.ok(targetFromBits(params.genesisBits, params.powLimit) !== undefined, `${name}: genesis bits are valid and within powLimit`);
    const id = hashToHex(networkId(params));
    t.equal(id, headerHashHex(g.header), `${name}: network id = genesis hash`);
    t.equal(hashToHex(networkId(params)), id, `${name}: network id is stable`);
    pinned[name] = id;
    ids.add(id);
  }
  t.equal(ids.size, NETWORK_NAMES.length, 'every network has its own id');
  t.same(pinned, GENESIS_IDS, 'genesis ids are the pinned ones');
  t.throws(() => networkParams('testnet'), RangeError);
});
