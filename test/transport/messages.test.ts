/**
 * The one-key `{METHOD: payload}` codec (seeds 004): every method round-trips,
 * every payload is checked by its schema with its named limits, and each way
 * of being wrong has its reason code.
 */
import t from 'tap';
import { blockTxIds } from '../../src/core/block.js';
import { toCompactBlock } from '../../src/core/compact-block.js';
import { blockToJson } from '../../src/core/block.js';
import { genesisBlock } from '../../src/core/genesis.js';
import { txid, txToJson } from '../../src/core/transaction.js';
import {
  MAX_ADDR_ADDRESSES,
  MAX_BROADCAST_BLOCKS,
  MAX_GETTRANSACTIONS_TXIDS,
  MAX_INVENTORY_ITEMS,
  MAX_LIST_OF_BLOCKS,
  MAX_LOCATOR_HASHES,
  MAX_PUSH_TRANSACTIONS,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
} from '../../src/transport/limits.js';
import { METHODS, decodeMessage, encodeMessage, message, messageToJson, type Message, type MessageErrorCode, type Method } from '../../src/transport/messages.js';
import { ChainBuilder, keyFromSeed, regtest, regtestIdHex, transfer } from '../helpers/chain-builder.js';

const H = (n: number): string => n.toString(16).padStart(64, '0');
const alice = keyFromSeed(1);
const bob = keyFromSeed(2);
const tx1 = transfer(regtest, alice, bob, 5n, 0, 1n);
const tx2 = transfer(regtest, alice, bob, 7n, 1, 2n);
const builder = new ChainBuilder(regtest, { miner: alice });
const built = builder.next();

const hello = {
  version: PROTOCOL_VERSION,
  network: regtestIdHex,
  height: 12,
  tip: H(12),
  chainWork: 0x1234567890abcdefn,
  time: 1_700_000_000,
  nodeId: 'node-a',
  port: 18444,
  agent: 'cheesechain/0.1.0',
  role: 'peer' as const,
};

/** One example of every method. */
const examples: { [M in Method]: Extract<Message, { method: M }> } = {
  HELLO: message('HELLO', hello),
  HEY: message('HEY', { ...hello, role: 'tracker' }),
  GETADDR: message('GETADDR', {}),
  ADDR: message('ADDR', { addresses: [{ host: '127.0.0.1', port: 18444, nodeId: 'node-b' }, { host: '::1', port: 1 }] }),
  BROADCASTBLOCK: message('BROADCASTBLOCK', { hashes: [H(1), H(2)], height: 2 }),
  GETBLOCK: message('GETBLOCK', { hash: H(3) }),
  GETLISTOFBLOCKS: message('GETLISTOFBLOCKS', { locator: [H(9), H(8), H(0)], stop: H(20), limit: 500 }),
  LISTOFBLOCKS: message('LISTOFBLOCKS', { hashes: [] }),
  BLOCK: message('BLOCK', { block: built.block }),
  PUSHTRANSACTION: message('PUSHTRANSACTION', { transactions: [tx1, tx2] }),
  BROADCASTTRANSACTION: message('BROADCASTTRANSACTION', { txids: [txid(tx1)] }),
  GETTRANSACTIONS: message('GETTRANSACTIONS', { txids: [txid(tx1), txid(tx2)] }),
  PING: message('PING', { nonce: 42 }),
  PONG: message('PONG', { nonce: Number.MAX_SAFE_INTEGER }),
  REJECT: message('REJECT', { message: 'BLOCK', code: 'bad-merkle-root', reason: 'merkle root mismatch', hash: H(5) }),
  SENDCMPCT: message('SENDCMPCT', { announce: true, version: 1 }),
  CMPCTBLOCK: message('CMPCTBLOCK', toCompactBlock(built.block, blockTxIds(built.block), 2 ** 40 + 7)),
  GETBLOCKTXN: message('GETBLOCKTXN', { hash: H(6), indexes: [1, 2, 9] }),
  BLOCKTXN: message('BLOCKTXN', { hash: H(6), transactions: [tx1, tx2] }),
  GETBLOCKS: message('GETBLOCKS', { hashes: [H(1), H(2)] }),
  BLOCKS: message('BLOCKS', { blocks: [built.block, genesisBlock(regtest)] }),
};

function decodeOk(text: string): Message {
  const r = decodeMessage(text);
  if (!r.ok) throw r.error;
  return r.message;
}

function decodeErr(text: string): { code: MessageErrorCode; message: string } {
  const r = decodeMessage(text);
  if (r.ok) throw new Error(`expected an error for ${text.slice(0, 80)}`);
  return { code: r.error.reason, message: r.error.message };
}

t.test('every method round-trips through encode and decode', async (t) => {
  t.same(Object.keys(examples).sort(), [...METHODS].sort(), 'an example for every method');
  for (const m of METHODS) {
    const frame = encodeMessage(examples[m]);
    t.equal(frame[frame.length - 1], 0x04, `${m} ends with 0x04`);
    const text = frame.subarray(0, frame.length - 1).toString('utf8');
    t.same(Object.keys(JSON.parse(text)), [m], `${m} is a one-key object`);
    t.same(decodeOk(text), examples[m], `${m} round-trips`);
  }
});

t.test('wire forms: chain work in hex, blocks and transactions in their JSON forms', async (t) => {
  t.match(JSON.parse(messageToJson(examples.HELLO)), { HELLO: { chainWork: '1234567890abcdef', nodeId: 'node-a' } });
  t.same(JSON.parse(messageToJson(examples.BLOCK)), { BLOCK: { block: blockToJson(built.block) } });
  t.same(JSON.parse(messageToJson(examples.PUSHTRANSACTION)), { PUSHTRANSACTION: { transactions: [txToJson(tx1), txToJson(tx2)] } });
  const genesis = decodeOk(JSON.stringify({ BLOCK: { block: blockToJson(genesisBlock(regtest)) } }));
  t.equal(genesis.method, 'BLOCK');
});

t.test('compact-block messages: 48-bit short ids, ascending indexes, a coinbase prefilled', async (t) => {
  const cmpct = JSON.parse(messageToJson(examples.CMPCTBLOCK)) as { CMPCTBLOCK: Record<string, unknown> };
  t.same(Object.keys(cmpct.CMPCTBLOCK).sort(), ['header', 'nonce', 'prefilled', 'shortIds']);
  t.equal(decodeErr('{"GETBLOCKTXN": {"hash": "' + H(1) + '", "indexes": [2, 2]}}').code, 'bad-payload');
  t.equal(decodeErr('{"GETBLOCKTXN": {"hash": "' + H(1) + '", "indexes": []}}').code, 'bad-payload');
  const tooBig = { ...cmpct.CMPCTBLOCK, shortIds: [2 ** 48] };
  t.equal(decodeErr(JSON.stringify({ CMPCTBLOCK: tooBig })).code, 'bad-payload');
  t.equal(decodeErr(JSON.stringify({ CMPCTBLOCK: { ...cmpct.CMPCTBLOCK, prefilled: [] } })).code, 'bad-payload', 'the coinbase is always prefilled');
  t.equal(decodeErr('{"GETBLOCKS": {"hashes": []}}').code, 'bad-payload');
});

t.test('JSON as Python writes it (spaces, unknown payload fields) is accepted', async (t) => {
  const m = decodeOk('{"PING": {"nonce": 5, "extra": [1, 2]}}');
  t.same(m, { method: 'PING', payload: { nonce: 5 } }, 'unknown fields inside a payload are dropped');
});

t.test('each way of not being a message has its code', async (t) => {
  t.equal(decodeErr('{"PING": {"nonce": 1}').code, 'malformed-json');
  t.equal(decodeErr('hello there').code, 'malformed-json');
  t.equal(decodeErr('[{"PING": {"nonce": 1}}]').code, 'not-an-object');
  t.equal(decodeErr('"PING"').code, 'not-an-object');
  t.equal(decodeErr('null').code, 'not-an-object');
  t.equal(decodeErr('42').code, 'not-an-object');
  t.equal(decodeErr('{}').code, 'not-one-key');
  t.equal(decodeErr('{"PING": {"nonce": 1}, "PONG": {"nonce": 1}}').code, 'not-one-key');
  t.equal(decodeErr('{"GET_CHAIN": {}}').code, 'unknown-method');
  t.equal(decodeErr('{"ping": {"nonce": 1}}').code, 'unknown-method', 'method names are case-sensitive');
  t.equal(decodeErr('{"constructor": {}}').code, 'unknown-method', 'prototype names are not methods');
  t.equal(decodeErr('{"__proto__": {}}').code, 'unknown-method');
  t.equal(decodeErr('{"toString": {}}').code, 'unknown-method');
});

t.test('bad payloads name the method and the path of the first issue', async (t) => {
  const e1 = decodeErr('{"ADDR": {"addresses": [{"host": "a", "port": 1}, {"host": "b", "port": 70000}]}}');
  t.equal(e1.code, 'bad-payload');
  t.match(e1.message, /^ADDR: addresses\[1\]\.port: /);
  t.match(decodeErr('{"GETBLOCK": {"hash": "ABC"}}').message, /^GETBLOCK: hash: expected a hash/);
  t.match(decodeErr('{"GETADDR": null}').message, /^GETADDR: \(payload\)/);
  t.match(decodeErr('{"PING": {"nonce": -1}}').message, /^PING: nonce/);
  t.match(decodeErr('{"PING": {"nonce": 1.5}}').message, /^PING: nonce/);
  const badHello = JSON.parse(messageToJson(examples.HELLO));
  badHello.HELLO.nodeId = 'a:b';
  t.match(decodeErr(JSON.stringify(badHello)).message, /^HELLO: nodeId: expected a node id/);
  badHello.HELLO.nodeId = 'ok';
  badHello.HELLO.chainWork = '0x12';
  t.match(decodeErr(JSON.stringify(badHello)).message, /^HELLO: chainWork/);
  const badBlock = JSON.parse(messageToJson(examples.BLOCK));
  badBlock.BLOCK.block.transactions[0].amount = 1.5;
  t.match(decodeErr(JSON.stringify(badBlock)), { code: 'bad-payload', message: /^BLOCK: block: / }, 'blocks are parsed by blockFromJson');
  const badTx = JSON.parse(messageToJson(examples.PUSHTRANSACTION));
  badTx.PUSHTRANSACTION.transactions[1].signature = 'zz';
  t.match(decodeErr(JSON.stringify(badTx)).message, /^PUSHTRANSACTION: transactions\[1\]: /);
  t.equal(decodeErr('{"PUSHTRANSACTION": {"transactions": []}}').code, 'bad-payload', 'at least one transaction');
  t.equal(decodeErr('{"BROADCASTTRANSACTION": {"txids": []}}').code, 'bad-payload', 'at least one txid');
});

t.test('item limits are enforced at exactly their named values', async (t) => {
  const addr = (n: number): string => JSON.stringify({ ADDR: { addresses: Array.from({ length: n }, (_, i) => ({ host: '10.0.0.1', port: 1 + i })) } });
  t.equal(MAX_ADDR_ADDRESSES, 1_000);
  t.ok(decodeMessage(addr(MAX_ADDR_ADDRESSES)).ok, '1,000 addresses');
  t.equal(decodeErr(addr(MAX_ADDR_ADDRESSES + 1)).code, 'bad-payload', '1,001 addresses');

  const hashes = (n: number): string[] => Array.from({ length: n }, (_, i) => H(i));
  t.equal(MAX_LIST_OF_BLOCKS, 2_000);
  t.ok(decodeMessage(JSON.stringify({ LISTOFBLOCKS: { hashes: hashes(MAX_LIST_OF_BLOCKS) } })).ok, '2,000 hashes');
  t.equal(decodeErr(JSON.stringify({ LISTOFBLOCKS: { hashes: hashes(MAX_LIST_OF_BLOCKS + 1) } })).code, 'bad-payload', '2,001 hashes');
  t.ok(decodeMessage(JSON.stringify({ GETLISTOFBLOCKS: { locator: hashes(MAX_LOCATOR_HASHES) } })).ok);
  t.equal(decodeErr(JSON.stringify({ GETLISTOFBLOCKS: { locator: hashes(MAX_LOCATOR_HASHES + 1) } })).code, 'bad-payload');
  t.equal(decodeErr(JSON.stringify({ GETLISTOFBLOCKS: { locator: [H(1)], limit: MAX_LIST_OF_BLOCKS + 1 } })).code, 'bad-payload');
  t.ok(decodeMessage(JSON.stringify({ BROADCASTBLOCK: { hashes: hashes(MAX_BROADCAST_BLOCKS) } })).ok);
  t.equal(decodeErr(JSON.stringify({ BROADCASTBLOCK: { hashes: hashes(MAX_BROADCAST_BLOCKS + 1) } })).code, 'bad-payload');
  t.equal(decodeErr(JSON.stringify({ GETTRANSACTIONS: { txids: hashes(MAX_GETTRANSACTIONS_TXIDS + 1) } })).code, 'bad-payload');

  const inv = JSON.stringify({ BROADCASTTRANSACTION: { txids: hashes(MAX_INVENTORY_ITEMS) } });
  t.ok(Buffer.byteLength(inv) < MAX_FRAME_BYTES, `a full BROADCASTTRANSACTION fits in a frame (${Buffer.byteLength(inv)} bytes)`);
  t.ok(decodeMessage(inv).ok);
  t.equal(decodeErr(JSON.stringify({ BROADCASTTRANSACTION: { txids: hashes(MAX_INVENTORY_ITEMS + 1) } })).code, 'bad-payload');

  const many = Array.from({ length: MAX_PUSH_TRANSACTIONS }, () => txToJson(tx1));
  const push = JSON.stringify({ PUSHTRANSACTION: { transactions: many } });
  t.ok(Buffer.byteLength(push) < MAX_FRAME_BYTES, `a full PUSHTRANSACTION fits in a frame (${Buffer.byteLength(push)} bytes)`);
  t.ok(decodeMessage(push).ok);
  t.equal(decodeErr(JSON.stringify({ PUSHTRANSACTION: { transactions: [...many, txToJson(tx1)] } })).code, 'bad-payload');
});

t.test('encodeMessage refuses a message larger than a frame', async (t) => {
  const huge = message('REJECT', { message: '', code: 'x', reason: 'y'.repeat(MAX_FRAME_BYTES) });
  t.throws(() => encodeMessage(huge), { code: 'ERR_FRAME', reason: 'frame-too-large' });
  const compressed = encodeMessage(examples.BLOCK, { compression: 'zlib' });
  t.equal(compressed[compressed.length - 2], 0x02, 'zlib frames carry the 0x02 marker');
});
