/**
 * Seed 001's peer side on a peer's own listening port: a Python client
 * written from the document (examples/seed001/seed001_flow.py, standard
 * library only) runs the whole flow against a real tracker and a real peer,
 * and stays a tracker member through several liveness rounds though it never
 * speaks HELLO; bad seed-001 input gets error lines, never a ban; the peer
 * keeps serving its own protocol meanwhile.
 */
import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { blockToJson } from '../../src/core/block.js';
import { txToJson, txid } from '../../src/core/transaction.js';
import { SEED001_MAX_LINE_BYTES } from '../../src/transport/seed001.js';
import { ChainBuilder, newKey, regtest } from '../helpers/chain-builder.js';
import { runPython, skipWithoutPython } from '../helpers/python.js';
import { nextEvent, trackerFor } from '../tracker/helpers.js';
import type { TrackerEvent } from '../../src/tracker/server.js';
import { startPeer, untilInMempool, untilPeers, untilTip } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('../../../examples/seed001/seed001_flow.py', import.meta.url));

t.test('a seed-001 client runs the whole flow against a tracker and a cheesechain peer', { skip: skipWithoutPython }, async (t) => {
  const tracker = await trackerFor(t, { network: 'regtest', helloIntervalMs: 200, helloTimeoutMs: 1000 });
  const joined = nextEvent(tracker, (e: TrackerEvent): e is Extract<TrackerEvent, { type: 'joined' }> => e.type === 'joined');
  const node = await startPeer(t, { nodeId: 'cheddar', overrides: { tracker: { host: '127.0.0.1', port: tracker.port } } });
  const nodePid = (await joined).member.peerId;
  const other = await startPeer(t, { nodeId: 'gouda', peers: [node.listenPort] });
  await untilPeers(node, 1);

  const b = new ChainBuilder(regtest);
  for (const built of b.extend(3)) await node.api.submitBlock(blockToJson(built.block));
  const pay = b.pay(b.miner, newKey(), 1_000n, 1_000n);
  const submitted = await node.api.submitTransaction(txToJson(pay));
  t.match(submitted, { accepted: true }, JSON.stringify(submitted));
  await untilInMempool(node, txid(pay));

  const rounds: number[] = [];
  tracker.on((e) => void (e.type === 'liveness-round' && rounds.push(e.round.alive)));
  const py = runPython(t, SCRIPT, ['127.0.0.1', String(tracker.port), '--json', '--stay', '1.5', '--subscribe', '1']);
  t.same(await py.next(), { event: 'tracker', greeting: 'Connection Successful' });
  const me = await py.next();
  t.match(me, { event: 'joined', pid: /^PID[0-9a-f]{32}$/ });
  const peers = await py.next();
  t.ok((peers.peers as { peer_id: string }[]).some((p) => p.peer_id === nodePid), 'GET_PEERS lists the cheesechain peer');
  const peer = await py.next();
  t.equal(peer.greeting, `Connection to peer [${nodePid}]`, "the peer greets with the PID the tracker gave it");
  const chain = peer.chain as { sequence_number: number; parent_smell: string; smell: string; nonce: number; timestamp: number; transactions: unknown[] }[];
  t.equal(chain.length, 4, 'genesis and three blocks');
  for (const cheese of chain) {
    const view = await node.api.blockByHeight(cheese.sequence_number);
    t.equal(cheese.smell, view!.hash, `height ${cheese.sequence_number}: smell is the block hash of the HTTP API`);
    t.equal(cheese.parent_smell, cheese.sequence_number === 0 ? '' : view!.block.header.prevHash);
    t.equal(cheese.nonce, view!.block.header.nonce);
    t.equal(cheese.timestamp, view!.block.header.time);
    t.equal(cheese.transactions.length, view!.block.transactions.length);
  }
  t.same(peer.open_transactions, [{ sender: Buffer.from(b.miner.publicKey).toString('hex'), recipient: Buffer.from(pay.recipient).toString('hex'), amount: 1000 }]);
  t.match(await py.next(), { event: 'subscribed', reply: 'SUBSCRIBED' });
  const next = b.next([pay]);
  await node.api.submitBlock(blockToJson(next.block));
  t.match(await py.next(), { event: 'cheese', cheese: { sequence_number: 4, smell: next.entry.hash } }, 'a subscriber is told of the new cheese');
  t.match(await py.next(), { event: 'still_member', ok: true });
  t.equal(await py.exit, 0);
  t.ok(rounds.length >= 3, `several liveness rounds passed (${rounds.length})`);
  t.ok(Math.max(...rounds) >= 2, 'rounds found both the cheesechain peer and the seed-001 client alive');

  await untilTip(other, next.entry.hash);
  t.equal((await node.api.peers()).length, 1, 'the peer kept its peer-protocol connection while seed-001 clients came and went');
});

/** A raw client of the peer port: sends lines, reads reply lines. */
async function rawClient(port: number): Promise<{ lines: () => Promise<string>; send: (s: string | Buffer) => void; closed: Promise<unknown> }> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const queue: string[] = [];
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else queue.push(line);
    }
  });
  s.on('error', () => undefined);
  return {
    lines: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r))),
    send: (x) => s.write(x),
    closed: once(s, 'close'),
  };
}

t.test('bad seed-001 input gets error lines or a close, never a ban', async (t) => {
  const node = await startPeer(t, { nodeId: 'brie' });
  const c = await rawClient(node.listenPort);
  t.equal(await c.lines(), 'Connection to peer [brie]', 'a silent client is greeted (the node id without a tracker)');
  c.send('HELLO_WORLD:1\n');
  t.match(await c.lines(), /^ERROR UNKNOWN_COMMAND /);
  c.send('GET_CHAIN\r\n');
  t.match(await c.lines(), /^ERROR MALFORMED /);
  c.send('GET_CHAIN:PID1');
  t.match(await c.lines(), /^CHAIN\[\{"sequence_number": ?0/, 'a request without line end is answered after a quiet moment');
  c.send('SHARE_TRANSACTION:{"sender": "a", "recipient": "b", "amount": 5}\n');
  t.match(await c.lines(), /^REFUSED unsigned /, 'an unsigned seed-001 transaction is refused, with the reason');
  c.send('SHARE_CHEESE:{"sequence_number": 9, "parent_smell": "", "transactions": [], "nonce": 1, "timestamp": 0}\n');
  t.match(await c.lines(), /^REFUSED no-proof-of-work /);
  c.send(Buffer.alloc(SEED001_MAX_LINE_BYTES + 10, 0x41));
  t.match(await c.lines(), /^ERROR LINE_TOO_LONG /);
  await c.closed;

  const d = await rawClient(node.listenPort);
  d.send('{"HELLO": {}}\x04');
  t.equal(await d.lines(), 'Connection to peer [brie]', 'bytes that are no id line are seed 001, not a bad id line');
  t.match(await d.lines(), /^ERROR UNKNOWN_COMMAND /);
  const p2 = await startPeer(t, { nodeId: 'camembert', peers: [node.listenPort] });
  await untilPeers(p2, 1);
  t.pass('a peer-protocol connection from the same address is still accepted: nobody was banned');
});

t.test('seed001 config: CHAIN lists the most recent maxChainCheeses blocks; disabled, a silent socket is a peer-protocol connection', async (t) => {
  const node = await startPeer(t, { nodeId: 'emmental', overrides: { seed001: { maxChainCheeses: 2 } } });
  const b = new ChainBuilder(regtest);
  for (const built of b.extend(4)) await node.api.submitBlock(blockToJson(built.block));
  await untilTip(node, b.tip.hash);
  const c = await rawClient(node.listenPort);
  t.equal(await c.lines(), 'Connection to peer [emmental]');
  c.send('GET_CHAIN:emmental\n');
  const chain = JSON.parse((await c.lines()).slice('CHAIN'.length)) as { sequence_number: number }[];
  t.same(chain.map((x) => x.sequence_number), [3, 4], 'the two most recent blocks, oldest first');

  const off = await startPeer(t, { nodeId: 'feta', overrides: { seed001: { enabled: false } } });
  const s = connect({ host: '127.0.0.1', port: off.listenPort });
  s.on('error', () => undefined);
  t.teardown(() => s.destroy());
  await once(s, 'connect');
  // With document 001 off, a seed-001 command is just a bad id line to the peer protocol: no greeting, a close.
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  s.write('GET_CHAIN:feta\n');
  await once(s, 'close');
  t.notMatch(got, /Connection to peer|CHAIN\[/, `no seed-001 greeting or reply (${JSON.stringify(got.slice(0, 120))})`);
});
