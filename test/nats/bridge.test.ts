import t from 'tap';
import { connect, type NatsConnection } from 'nats';
import { generateKeyPair, keyPairFromSeed } from '../../src/core/ed25519.js';
import { toHex } from '../../src/core/encoding.js';
import { networkId, networkParams } from '../../src/core/genesis.js';
import { signTransfer, txid, txToJson } from '../../src/core/transaction.js';
import { requestNode } from '../../src/nats/client.js';
import { eventSubject, nodeSubject, requestSubject } from '../../src/nats/subjects.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { NatsServer } from '../helpers/nats-server.js';
import { collect, memoryLogger, regtestConfig, StepMiner, tempDir } from './fixtures.js';
import { natsNodeDeps } from '../../src/nats/node-wiring.js';

/*
 * A real peer (LMDB in a temporary folder, its actors, the bridge started by
 * startNode because `nats` is configured) against a real nats-server. Blocks
 * are made on demand by a StepMiner, so each event is expected exactly.
 */

const NODE = 'peer-a';
const params = networkParams('regtest');
const netId = networkId(params);
const minerKey = keyPairFromSeed(new Uint8Array(32).fill(7));

let server: NatsServer;
let nc: NatsConnection;
let node: RunningNode;
let miner: StepMiner;
let events: ReturnType<typeof collect>;
const log = memoryLogger();

t.before(async () => {
  server = await NatsServer.start();
  nc = await connect({ servers: server.url });
  events = collect(nc, `cheesechain.regtest.${NODE}.evt.>`);
  await nc.flush();
  const dir = tempDir('nats-bridge');
  miner = new StepMiner();
  node = await startNode(regtestConfig(dir.path, NODE, server.url, { mining: { enabled: false, workers: 1, address: toHex(minerKey.publicKey) } }), { logger: log.logger, miner, ...natsNodeDeps });
  t.teardown(async () => {
    await node.stop();
    await nc.close();
    await server.stop();
    dir.cleanup();
  });
});

const req = (kind: Parameters<typeof requestNode>[3], body: Parameters<typeof requestNode>[4]) => requestNode(nc, 'regtest', NODE, kind, body, 5_000);

t.test('the bridge publishes status started and online when it connects', async (t) => {
  const started = await events.next((r) => r.json.event === 'status' && r.json.data.state === 'started', 'status started');
  t.equal(started.subject, eventSubject('regtest', NODE, 'status'));
  t.match(started.json, { v: 1, network: 'regtest', nodeId: NODE, seq: Number, time: Number });
  const online = await events.next((r) => r.json.event === 'status' && r.json.data.state === 'online', 'status online');
  t.match(online.json.data, { height: 0, reconnect: false });
});

t.test('a connected block publishes block.connected, tip and block.mined with hashes and sizes, not the block', async (t) => {
  await miner.step();
  const connected = await events.next((r) => r.json.event === 'block.connected' && r.json.data.height === 1, 'block.connected 1');
  t.equal(connected.subject, 'cheesechain.regtest.peer-a.evt.block.connected');
  t.match(connected.json.data, { height: 1, hash: /^[0-9a-f]{64}$/, prevHash: /^[0-9a-f]{64}$/, txCount: 1, size: Number, miner: toHex(minerKey.publicKey), reward: '5000000000' });
  t.notOk('transactions' in connected.json.data, 'no transactions in the event');
  const tip = await events.next((r) => r.json.event === 'tip' && r.json.data.height === 1, 'tip 1');
  t.match(tip.json.data, { hash: connected.json.data.hash, reorgDepth: 0, previous: { height: 0 }, chainWork: /^[0-9a-f]+$/ });
  const mined = await events.next((r) => r.json.event === 'block.mined', 'block.mined');
  t.equal(mined.json.data.hash, connected.json.data.hash);
});

t.test('a submitted transaction is accepted, published, and found by req.tx', async (t) => {
  const bob = generateKeyPair();
  const templates = miner.templates;
  const tx = signTransfer(netId, { recipient: bob.publicKey, amount: 1_000n, fee: 200n, nonce: 0 }, minerKey.secretKey);
  const reply = await req('submit', { tx: txToJson(tx) });
  t.same(reply, { ok: true, result: { txid: txid(tx) } });
  const accepted = await events.next((r) => r.json.event === 'tx.accepted', 'tx.accepted');
  t.same(accepted.json.data, { txid: txid(tx), sender: toHex(minerKey.publicKey), recipient: toHex(bob.publicKey), amount: '1000', fee: '200', nonce: 0, source: 'api' });
  const pending = await req('tx', { txid: txid(tx) });
  t.match(pending, { ok: true, result: { txid: txid(tx), status: 'mempool' } });

  await miner.newTemplate(templates);
  await miner.step();
  const block = await events.next((r) => r.json.event === 'block.connected' && r.json.data.height === 2, 'block 2');
  t.equal(block.json.data.txCount, 2);
  const confirmed = await req('tx', { txid: txid(tx) });
  t.match(confirmed, { ok: true, result: { status: 'confirmed', height: 2, blockHash: block.json.data.hash } });
  const account = await req('account', { key: toHex(bob.publicKey) });
  t.same(account, { ok: true, result: { key: toHex(bob.publicKey), balance: '1000', nonce: 0, pendingNonce: 0 } });

  const replay = await req('submit', { tx: txToJson(tx) });
  t.match(replay, { ok: false, error: { code: 'rejected', reject: String, message: String } }, 'a replayed transfer is a typed rejection');
});

t.test('a real peer connecting and leaving publishes peer.connected and peer.disconnected; req.peers lists it', async (t) => {
  const dir = tempDir('nats-bridge-b');
  t.teardown(dir.cleanup);
  const other = await startNode(regtestConfig(dir.path, 'peer-b', undefined, { peers: [`127.0.0.1:${node.listenPort}`] }), { logger: memoryLogger().logger });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : other.stop()));
  const connected = await events.next((r) => r.json.event === 'peer.connected' && r.json.data.peer === 'peer-b', 'peer.connected');
  t.match(connected.json.data, { peer: 'peer-b', host: '127.0.0.1', port: other.listenPort, direction: 'inbound' });
  const peers = await req('peers', {});
  t.match(peers, { ok: true, result: [{ nodeId: 'peer-b', direction: 'inbound', port: other.listenPort }] });
  await other.stop();
  stopped = true;
  const gone = await events.next((r) => r.json.event === 'peer.disconnected' && r.json.data.peer === 'peer-b', 'peer.disconnected');
  t.match(gone.json.data, { peer: 'peer-b', direction: 'inbound', reason: String });
});

t.test('ban, eviction and refusal events are published with their fields', async (t) => {
  node.bus.publish({ type: 'peer-banned', nodeId: 'peer-c', host: '127.0.0.2', reason: 'invalid block', untilMs: 1_900_000_000_000 });
  node.bus.publish({ type: 'tx-evicted', txid: 'ab'.repeat(32), reason: 'mempool-full' });
  node.bus.publish({ type: 'tx-rejected', txid: 'cd'.repeat(32), code: 'bad-signature', reason: 'signature does not verify', source: 'peer-c' });
  t.same((await events.next((r) => r.json.event === 'peer.banned', 'peer.banned')).json.data, { peer: 'peer-c', host: '127.0.0.2', reason: 'invalid block', until: 1_900_000_000_000 });
  t.same((await events.next((r) => r.json.event === 'tx.evicted', 'tx.evicted')).json.data, { txid: 'ab'.repeat(32), reason: 'mempool-full' });
  t.same((await events.next((r) => r.json.event === 'tx.rejected' && r.json.data.txid === 'cd'.repeat(32), 'tx.rejected')).json.data, { txid: 'cd'.repeat(32), code: 'bad-signature', reason: 'signature does not verify', source: 'peer-c' });
  const seqs = events.all.map((r) => r.json.seq as number);
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'sequence numbers increase');
});

t.test('every request kind answers', async (t) => {
  const info = await req('info', {});
  t.match(info, { ok: true, result: { network: 'regtest', nodeId: NODE, height: 2, mempool: 0 } });
  t.match(await req('info', new Uint8Array()), { ok: true }, 'an empty body is {}');
  const byHeight = await req('block', { height: 1 });
  t.match(byHeight, { ok: true, result: { height: 1, mainChain: true, block: { header: Object, transactions: Array } } });
  const hash = (byHeight as { ok: true; result: { hash: string } }).result.hash;
  t.match(await req('block', { hash }), { ok: true, result: { hash, height: 1 } });
  t.match(await req('block', { hash: hash.toUpperCase() }), { ok: true, result: { hash } }, 'hex in upper case is accepted');
  const summary = await req('block', { height: 2, summary: true });
  t.match(summary, { ok: true, result: { height: 2, txCount: 2, header: Object } });
  t.notOk('block' in (summary as { result: object }).result);
  t.match(await req('peers', {}), { ok: true, result: Array });
  t.match(await req('account', { key: toHex(minerKey.publicKey) }), { ok: true, result: { nonce: 1, pendingNonce: 1 } });
});

t.test('bad requests get typed error replies, never silence', async (t) => {
  const cases: Array<[Parameters<typeof requestNode>[3], unknown, string, RegExp?]> = [
    ['block', { height: 99 }, 'not-found', /height 99/],
    ['block', { hash: '00'.repeat(32) }, 'not-found'],
    ['block', {}, 'bad-request', /exactly one of hash and height/],
    ['block', { hash: '00'.repeat(32), height: 1 }, 'bad-request', /exactly one/],
    ['block', { height: -1 }, 'bad-request', /non-negative integer/],
    ['block', { height: 1.5 }, 'bad-request', /non-negative integer/],
    ['block', { hash: 'xyz' }, 'bad-request', /hash must be a block hash/],
    ['block', { height: 1, summary: 'yes' }, 'bad-request', /summary/],
    ['block', { height: 1, extra: 1 }, 'bad-request', /unknown field "extra"/],
    ['tx', { txid: '11'.repeat(32) }, 'not-found'],
    ['tx', {}, 'bad-request', /txid/],
    ['account', { key: 'zz' }, 'bad-request', /key must be an ed25519 public key/],
    ['submit', {}, 'bad-request', /tx must be a transaction object/],
    ['submit', { tx: { type: 'transfer' } }, 'rejected'],
    ['info', { verbose: true }, 'bad-request', /unknown field/],
    ['peers', [], 'bad-request', /JSON object/],
  ];
  for (const [kind, body, code, message] of cases) {
    const reply = await req(kind, body as Record<string, unknown>);
    t.equal(reply.ok, false, `${kind} ${JSON.stringify(body)} fails`);
    if (!reply.ok) {
      t.equal(reply.error.code, code, `${kind} ${JSON.stringify(body)} → ${code}`);
      if (message) t.match(reply.error.message, message);
    }
  }
  const malformed = await req('submit', { tx: { type: 'transfer' } });
  t.match(malformed, { ok: false, error: { reject: 'malformed' } });
  t.match(await req('tx', new TextEncoder().encode('{not json')), { ok: false, error: { code: 'bad-json' } });
  const unknown = await nc.request(`${nodeSubject('regtest', NODE)}.req.mine`, new Uint8Array(), { timeout: 5_000 });
  t.match(JSON.parse(new TextDecoder().decode(unknown.data)), { ok: false, error: { code: 'bad-request', message: /unknown request kind/ } });
  t.equal(requestSubject('regtest', NODE, 'info'), 'cheesechain.regtest.peer-a.req.info');
});

t.test('stopping the peer publishes status stopping', async (t) => {
  await node.stop();
  const stopping = await events.next((r) => r.json.event === 'status' && r.json.data.state === 'stopping', 'status stopping');
  t.ok(stopping);
  t.ok(log.records.some((r) => r.msg === 'NATS connected'), 'the bridge logged its connection');
});
