import t from 'tap';
import { connect } from 'node:net';
import { blockHash, blockToJson } from '../../src/core/block.js';
import { txid, txToJson } from '../../src/core/transaction.js';
import { EOT_BYTE } from '../../src/transport/limits.js';
import { ChainBuilder, newKey, regrind, regtest, transfer } from '../helpers/chain-builder.js';
import { startPeer, until, untilInMempool, untilPeers, untilTip } from './helpers.js';

t.test('five peers: a block and a transaction reach every peer; a late joiner syncs 200 blocks', async (t) => {
  const p0 = await startPeer(t, { nodeId: 'p0' });
  const peers = [p0];
  // A line p4 → p3 → p2 → p1 → p0: relaying must cross hops.
  for (let i = 1; i < 5; i++) peers.push(await startPeer(t, { nodeId: `p${i}`, peers: [peers[i - 1]!.listenPort] }));
  await Promise.all(peers.map((p, i) => untilPeers(p, i === 0 || i === 4 ? 1 : 2)));

  const b = new ChainBuilder(regtest);
  const first = b.next();
  t.match(await p0.api.submitBlock(blockToJson(first.block)), { status: 'connected' });
  await Promise.all(peers.map((p) => untilTip(p, first.entry.hash)));
  t.pass('the block reached every peer');

  const alice = newKey();
  const pay = b.pay(b.miner, alice, 1_000n, 200n);
  t.match(await peers[2]!.api.submitTransaction(txToJson(pay)), { accepted: true });
  await Promise.all(peers.map((p) => untilInMempool(p, txid(pay))));
  t.pass('the transaction reached every mempool');

  const more = b.extend(199, (h) => (h === 2 ? [pay] : []));
  for (const built of more) await p0.api.submitBlock(blockToJson(built.block));
  await Promise.all(peers.map((p) => untilTip(p, b.tip.hash)));
  t.equal((await peers[4]!.api.info()).mempool, 0, 'the confirmed transaction left the mempools');

  const late = await startPeer(t, { nodeId: 'late', peers: [peers[4]!.listenPort, peers[2]!.listenPort] });
  await untilTip(late, b.tip.hash);
  const info = await late.api.info();
  t.equal(info.height, 200, 'the late joiner synced 200 blocks');
  t.equal((await late.api.account(Buffer.from(alice.publicKey).toString('hex'))).balance, '1000', 'and the state they carry');
});

t.test('a partition into two and three peers that both extend the chain converges on the most work when healed', async (t) => {
  const a = await startPeer(t, { nodeId: 'a' });
  const bNode = await startPeer(t, { nodeId: 'b', peers: [a.listenPort] });
  const c = await startPeer(t, { nodeId: 'c' });
  const d = await startPeer(t, { nodeId: 'd', peers: [c.listenPort] });
  const e = await startPeer(t, { nodeId: 'e', peers: [c.listenPort, d.listenPort] });
  await Promise.all([untilPeers(bNode, 1), untilPeers(d, 2), untilPeers(e, 2)]);

  const base = new ChainBuilder(regtest);
  base.extend(2);
  for (const built of base.built) {
    await a.api.submitBlock(blockToJson(built.block));
    await c.api.submitBlock(blockToJson(built.block));
  }
  const alice = newKey();
  const small = base.fork(2, { miner: base.miner });
  const pay = small.pay(small.miner, alice, 777n, 3n);
  small.next([pay]);
  small.extend(2);
  const big = base.fork(2);
  big.extend(5);
  for (const built of small.built.slice(2)) await a.api.submitBlock(blockToJson(built.block));
  for (const built of big.built.slice(2)) await c.api.submitBlock(blockToJson(built.block));
  await Promise.all([untilTip(bNode, small.tip.hash), untilTip(d, big.tip.hash), untilTip(e, big.tip.hash)]);
  t.pass('each side of the partition follows its own branch');

  const reorged = until(bNode, 'block-disconnected', () => true);
  a.connect('127.0.0.1', c.listenPort);
  await Promise.all([a, bNode, c, d, e].map((p) => untilTip(p, big.tip.hash)));
  await reorged;
  t.pass('all five peers are on the heavier branch');
  for (const p of [a, bNode]) {
    t.equal((await p.api.transaction(txid(pay)))?.status, 'mempool', `${p.nodeId}: the transfer of the abandoned branch is back in the mempool`);
  }
});

t.test('a peer of another network is disconnected with REJECT wrong-network', async (t) => {
  const p = await startPeer(t, { nodeId: 'host' });
  const left = until(p, 'peer-disconnected', () => true);
  const sock = connect({ host: '127.0.0.1', port: p.listenPort });
  await new Promise((r) => sock.once('connect', r));
  sock.write('intruder:1234');
  await new Promise((r) => sock.once('data', r));
  const hello = { HELLO: { version: 1, network: 'ff'.repeat(32), height: 0, tip: '00'.repeat(32), chainWork: '1', time: Math.floor(Date.now() / 1000), nodeId: 'intruder', port: 1234 } };
  const received: Buffer[] = [];
  sock.on('data', (b: Buffer) => received.push(b));
  sock.write(Buffer.concat([Buffer.from(JSON.stringify(hello)), Buffer.from([EOT_BYTE])]));
  await new Promise((r) => sock.once('close', r));
  t.match(Buffer.concat(received).toString(), /"code":"wrong-network"/, 'the REJECT says why');
  t.equal((await p.api.peers()).length, 0, 'no peer was added');
  void left;
});

t.test('an invalid block bans its sender; a transaction refused only by policy does not', async (t) => {
  const { PeerConnection } = await import('../../src/transport/connection.js');
  const { message } = await import('../../src/transport/messages.js');
  const { hashToHex } = await import('../../src/core/hash.js');
  const { networkId } = await import('../../src/core/genesis.js');
  const { IdentitySigner } = await import('../../src/transport/handshake-auth.js');
  const { generateKeyPair } = await import('../../src/core/ed25519.js');
  const p = await startPeer(t, { nodeId: 'judge' });
  const b = new ChainBuilder(regtest);
  const first = b.next();
  await p.api.submitBlock(blockToJson(first.block));

  const dialClient = async (nodeId: string, identity?: InstanceType<typeof IdentitySigner>) => {
    const socket = connect({ host: '127.0.0.1', port: p.listenPort });
    await new Promise((r) => socket.once('connect', r));
    const conn = new PeerConnection({
      socket,
      direction: 'outbound',
      nodeId,
      listenPort: 0,
      network: hashToHex(networkId(regtest)),
      status: () => ({ height: 0, tip: hashToHex(networkId(regtest)), chainWork: 1n }),
      ...(identity ? { identity } : {}),
    });
    t.teardown(() => conn.close('local-close'));
    await conn.ready;
    return conn;
  };

  // Policy: a transfer with a nonce gap is refused, the sender stays connected.
  const polite = await dialClient('polite');
  const refused = until(p, 'tx-accepted', () => true);
  const gap = transfer(regtest, b.miner, newKey(), 1_000n, 7, 200n);
  polite.send(message('PUSHTRANSACTION', { transactions: [gap] }));
  const ok = b.pay(b.miner, newKey(), 1_000n, 200n);
  polite.send(message('PUSHTRANSACTION', { transactions: [ok] }));
  t.equal((await refused).txid, txid(ok), 'the valid transfer after the refused one was accepted on the same connection');
  t.ok(polite.isOpen, 'a policy refusal does not disconnect');

  // Consensus: a block with a wrong merkle root bans the key its sender proved (loopback itself is never banned).
  const rudeKey = new IdentitySigner(generateKeyPair());
  const rude = await dialClient('rude', rudeKey);
  const banned = until(p, 'peer-banned', (e) => e.nodeId === 'rude');
  const bad = b.next().block;
  bad.header = regrind({ ...bad.header, merkleRoot: new Uint8Array(32) }, regtest);
  rude.send(message('BLOCK', { block: bad }));
  const ban = await banned;
  t.match(ban.reason, /^invalid-block: /, 'the sender is banned for an invalid block, the typed reason end to end');
  t.same(ban.subjects, [`key:${rudeKey.publicKeyHex}`], 'the proven key is banned, not the loopback address nor the claimed id');
  const ended = await rude.closed;
  t.equal(ended.reason, 'remote-closed');
  t.match(ended.remoteReject, { message: 'BLOCK', code: 'bad-merkle-root', hash: hashToHex(blockHash(bad)) }, 'a REJECT naming the message, the validation code and the block came before the close');
  t.ok(polite.isOpen, 'the polite peer is still connected');
  const again = await dialClient('rude-again', rudeKey).then(
    () => undefined,
    (err: { info?: { remoteReject?: { code: string } } }) => err.info,
  );
  t.match(again, { remoteReject: { code: 'banned' } }, 'the banned key is refused at its next HELLO, whatever id it claims');
});

t.test('a syncing peer re-requests from another peer the blocks a stalling peer never sends', async (t) => {
  const { listen } = await import('../../src/transport/tcp.js');
  const { message } = await import('../../src/transport/messages.js');
  const { hashToHex } = await import('../../src/core/hash.js');
  const { networkId } = await import('../../src/core/genesis.js');
  const { IdentitySigner } = await import('../../src/transport/handshake-auth.js');
  const { generateKeyPair } = await import('../../src/core/ed25519.js');
  const honest = await startPeer(t, { nodeId: 'honest' });
  const b = new ChainBuilder(regtest);
  const blocks = b.extend(30);
  for (const built of blocks) await honest.api.submitBlock(blockToJson(built.block));

  // A peer that claims the same chain and lists its hashes, but never sends a block.
  let withheld = 0;
  let asked!: () => void;
  const stalling = new Promise<void>((r) => (asked = r));
  const staller = await listen({
    port: 0,
    nodeId: 'staller',
    network: hashToHex(networkId(regtest)),
    status: () => ({ height: b.tip.height, tip: b.tip.hash, chainWork: b.tip.chainWork }),
    onConnection: (conn) => {
      conn.on('node_message', (c, m) => {
        if (m.method === 'GETLISTOFBLOCKS') c.send(message('LISTOFBLOCKS', { hashes: blocks.map((x) => x.entry.hash) }));
        // A peer of this protocol version asks for several blocks at once (GETBLOCKS), an older one with GETBLOCK.
        const count = m.method === 'GETBLOCK' ? 1 : m.method === 'GETBLOCKS' ? m.payload.hashes.length : 0;
        if (count > 0 && withheld === 0) asked();
        withheld += count;
      });
    },
  });
  t.teardown(() => staller.close());

  const joiner = await startPeer(t, { nodeId: 'joiner', peers: [staller.port] });
  await stalling;
  joiner.connect('127.0.0.1', honest.listenPort);
  await untilTip(joiner, b.tip.hash);
  t.ok(withheld > 0, `the staller was asked for ${withheld} blocks and sent none`);
  t.equal((await joiner.api.info()).height, 30, 'the joiner still synced every block, from the honest peer');
});
