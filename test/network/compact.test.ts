/**
 * Compact block relay (BIP 152 high-bandwidth mode) and GETBLOCKS between
 * real peers on 127.0.0.1, observed by a raw protocol client.
 */
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { blockToJson, blockTxIds } from '../../src/core/block.js';
import { PartialBlock, type KnownTx } from '../../src/core/compact-block.js';
import { genesisBlock } from '../../src/core/genesis.js';
import { MAX_BLOCK_TXS } from '../../src/core/params.js';
import { workFromBits } from '../../src/core/pow.js';
import { txHash, txid, txToJson } from '../../src/core/transaction.js';
import { PeerConnection } from '../../src/transport/connection.js';
import { message, type Message } from '../../src/transport/messages.js';
import { ChainBuilder, keyFromSeed, regtest, regtestIdHex } from '../helpers/chain-builder.js';
import { startPeer, untilInMempool, untilPeers, untilTip } from './helpers.js';

/** A protocol client that records every message it receives. */
async function rawClient(t: Test, port: number, nodeId: string): Promise<{ conn: PeerConnection; next: (method: Message['method']) => Promise<Message> }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const conn = new PeerConnection({
    socket,
    direction: 'outbound',
    nodeId,
    listenPort: 0,
    network: regtestIdHex,
    status: () => ({ height: 0, tip: regtestIdHex, chainWork: workFromBits(genesisBlock(regtest).header.bits) }),
  });
  await conn.ready;
  t.teardown(() => conn.close());
  const inbox: Message[] = [];
  const waiters: Array<{ method: Message['method']; resolve: (m: Message) => void }> = [];
  conn.on('node_message', (_c, m) => {
    const i = waiters.findIndex((w) => w.method === m.method);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  const next = (method: Message['method']): Promise<Message> => {
    const i = inbox.findIndex((m) => m.method === method);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
    return new Promise((resolve) => waiters.push({ method, resolve }));
  };
  return { conn, next };
}

t.test('a block whose transfers are in the mempools travels as a compact block; the missing ones are asked with GETBLOCKTXN', async (t) => {
  const p0 = await startPeer(t, { nodeId: 'c0' });
  const p1 = await startPeer(t, { nodeId: 'c1', peers: [p0.listenPort] });
  await Promise.all([untilPeers(p1, 1), untilPeers(p0, 1)]);
  const b = new ChainBuilder(regtest, { miner: keyFromSeed(40) });
  const funding = b.next();
  await p0.api.submitBlock(blockToJson(funding.block));
  await untilTip(p1, funding.entry.hash);

  const client = await rawClient(t, p0.listenPort, 'observer');
  const sendcmpct = await client.next('SENDCMPCT');
  t.same(sendcmpct.payload, { announce: true, version: 1 }, 'the peer asks a new peer for high-bandwidth announcements');
  client.conn.send(message('SENDCMPCT', { announce: true, version: 1 }));

  // Above the mempool's default minimum relay fee and dust limit.
  const pays = Array.from({ length: 30 }, (_, i) => b.pay(b.miner, keyFromSeed(500 + i), 1_000n, 200n));
  for (const tx of pays.slice(0, 20)) await p0.api.submitTransaction(txToJson(tx));
  await Promise.all(pays.slice(0, 20).map((tx) => untilInMempool(p1, txid(tx))));
  // The last ten reach no mempool: the receiver must ask for them.
  const built = b.next(pays);
  t.match(await p0.api.submitBlock(blockToJson(built.block)), { status: 'connected' });
  await untilTip(p1, built.entry.hash);
  t.pass('the block reached the other peer');

  const cmpct = await client.next('CMPCTBLOCK');
  if (cmpct.method !== 'CMPCTBLOCK') throw new Error('unreachable');
  t.equal(cmpct.payload.shortIds.length, 30, 'one short id per transfer');
  t.same(cmpct.payload.prefilled.map((p) => p.index), [0], 'the coinbase prefilled');
  const partial = PartialBlock.create(cmpct.payload, MAX_BLOCK_TXS, txHash);
  if (typeof partial === 'string') throw new Error(partial);
  const ids = blockTxIds(built.block);
  partial.fill(built.block.txs.slice(1, 25).map((tx, i): KnownTx => ({ tx, hash: ids.hashes[i + 1]!, id: ids.ids[i + 1]! })));
  const missing = partial.missing();
  t.same(missing, [25, 26, 27, 28, 29, 30], 'the client rebuilds all but what it lacks');
  client.conn.send(message('GETBLOCKTXN', { hash: built.entry.hash, indexes: missing }));
  const txn = await client.next('BLOCKTXN');
  if (txn.method !== 'BLOCKTXN') throw new Error('unreachable');
  t.equal(txn.payload.hash, built.entry.hash);
  t.same(txn.payload.transactions.map(txid), missing.map((i) => txid(built.block.txs[i]!)), 'BLOCKTXN answers the indexes asked');
  t.ok(partial.fillMissing(txn.payload.transactions.map((tx) => ({ tx, hash: txHash(tx), id: txid(tx) }))));
  t.equal(partial.complete()?.block.txs.length, 31, 'the client holds the whole block');
});

t.test('GETBLOCKS is answered with BLOCKS in the order asked, and REJECT not-found for an unknown block', async (t) => {
  const p0 = await startPeer(t, { nodeId: 'g0' });
  const b = new ChainBuilder(regtest, { miner: keyFromSeed(41) });
  const blocks = b.extend(5);
  for (const x of blocks) await p0.api.submitBlock(blockToJson(x.block));
  const client = await rawClient(t, p0.listenPort, 'fetcher');
  const unknown = 'ab'.repeat(32);
  client.conn.send(message('GETBLOCKS', { hashes: [blocks[3]!.entry.hash, blocks[1]!.entry.hash, unknown, blocks[4]!.entry.hash] }));
  const first = await client.next('BLOCKS');
  if (first.method !== 'BLOCKS') throw new Error('unreachable');
  t.same(first.payload.blocks.map((x) => blockToJson(x).header), [blocks[3]!, blocks[1]!].map((x) => blockToJson(x.block).header));
  const rej = await client.next('REJECT');
  t.match(rej.payload, { message: 'GETBLOCKS', code: 'not-found', hash: unknown });
  const second = await client.next('BLOCKS');
  if (second.method !== 'BLOCKS') throw new Error('unreachable');
  t.equal(second.payload.blocks.length, 1);
});

t.test('a late joiner syncs over GETBLOCKS in batches and reports its progress', async (t) => {
  const seed = await startPeer(t, { nodeId: 's0' });
  const b = new ChainBuilder(regtest, { miner: keyFromSeed(42) });
  const blocks = b.extend(300, (h, builder) => (h > 1 && h % 10 === 0 ? [builder.pay(builder.miner, keyFromSeed(700 + h), 5n, 1n)] : []));
  for (const x of blocks) await seed.api.submitBlock(blockToJson(x.block));
  const late = await startPeer(t, { nodeId: 's1' });
  const done = late.bus.once('sync-progress', (e) => e.done);
  late.connect('127.0.0.1', seed.listenPort);
  await untilTip(late, b.tip.hash);
  const report = await done;
  t.equal(report.height, 300);
  t.equal(report.targetHeight, 300);
  t.equal((await late.api.account(Buffer.from(keyFromSeed(990).publicKey).toString('hex'))).balance, '5', 'the state of the synced chain');
});
