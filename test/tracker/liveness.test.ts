import t from 'tap';
import { networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS } from '../../src/core/params.js';
import { joinTracker } from '../../src/tracker/client.js';
import { probePeer } from '../../src/tracker/liveness.js';
import type { TrackerEvent } from '../../src/tracker/server.js';
import { message } from '../../src/transport/messages.js';
import { listen } from '../../src/transport/tcp.js';
import type { PeerConnection } from '../../src/transport/connection.js';
import { closedPort, FakeMember, helloOf, nextEvent, RawDialer, trackerFor } from './helpers.js';

/*
 * Liveness (document 004: "The tracker will send periodical HELLO requests to
 * all active members … and will respond to GETADDR requests") over real TCP:
 * members are real listeners that answer the id exchange of document 002 and
 * HELLO with HEY + HELLO.
 */

const devnetId = hashToHex(networkId(NETWORKS.devnet));

t.test('a live member stays, one that stops listening is removed at the next check', async (t) => {
  const tracker = await trackerFor(t, { trackerId: 'tracker-live', helloTimeoutMs: 2_000 });
  const alive = await FakeMember.start(t, 'member-alive');
  const doomed = await FakeMember.start(t, 'member-doomed');
  const address = { host: '127.0.0.1', port: tracker.port };
  const a = await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: alive.port });
  const d = await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: doomed.port });

  const first = await tracker.checkNow();
  t.same(first, { checked: 2, alive: 2, removed: [], ms: first.ms }, 'both answer the first check');
  await alive.receivedCount(2); // the closing HEY may still be in flight when the round ends
  t.same(alive.idLines, ['tracker-live:0'], 'the tracker dialled with <id>:0 (document 002)');
  t.same(
    alive.received.map((m) => m.method),
    ['HELLO', 'HEY'],
    'HELLO, then HEY after the member\'s HEY + HELLO (three-way exchange of document 004)',
  );
  const hello = alive.received[0]!;
  t.ok(hello.method === 'HELLO' && hello.payload.network === devnetId && hello.payload.nodeId === 'tracker-live' && hello.payload.role === 'tracker', 'HELLO carries network, node id and role');
  t.same(
    tracker.peers().map((m) => m.nodeId),
    ['member-alive', 'member-doomed'],
    'node ids learnt from the id exchange',
  );

  await doomed.stop();
  const removed = nextEvent(tracker, (e): e is Extract<TrackerEvent, { type: 'removed' }> => e.type === 'removed');
  const second = await tracker.checkNow();
  t.same(second.removed, [d.peerId], 'the stopped member is removed');
  t.equal((await removed).reason, 'connect-failed');
  t.same(
    tracker.peers().map((m) => m.peerId),
    [a.peerId],
    'the live member stays',
  );
});

t.test('a peer built on the transport answers the tracker\'s HELLO and stays; it sees a tracker-role connection', async (t) => {
  const tracker = await trackerFor(t, { trackerId: 'tracker-transport' });
  const seen: PeerConnection[] = [];
  const peer = await listen({
    port: 0,
    nodeId: 'transport-peer',
    network: devnetId,
    status: () => ({ height: 0, tip: devnetId, chainWork: 1n }),
    onConnection: (conn) => seen.push(conn),
  });
  t.teardown(() => peer.close());
  const { peerId } = await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: '127.0.0.1', listenPort: peer.port });
  const round = await tracker.checkNow();
  t.same(round.removed, []);
  t.equal(round.alive, 1);
  t.equal(tracker.peers()[0]?.peerId, peerId);
  t.equal(tracker.peers()[0]?.nodeId, 'transport-peer');
  const hello = await seen[0]!.ready;
  t.equal(hello.role, 'tracker', 'the peer can tell the tracker from a peer');
  t.equal(hello.port, 0, 'the tracker does not offer itself as a peer');
  const ended = await seen[0]!.closed;
  t.equal(ended.penalty, 'none', 'the tracker hanging up after the check is not misbehaviour');
});

t.test('the periodic loop runs by itself every helloIntervalMs', async (t) => {
  const tracker = await trackerFor(t, { helloIntervalMs: 100, helloTimeoutMs: 1_000 });
  const dead = await closedPort();
  const alive = await FakeMember.start(t, 'member-periodic');
  await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: '127.0.0.1', listenPort: dead });
  await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: '127.0.0.1', listenPort: alive.port });
  let round: Extract<TrackerEvent, { type: 'liveness-round' }>;
  do {
    round = await nextEvent(tracker, (e): e is Extract<TrackerEvent, { type: 'liveness-round' }> => e.type === 'liveness-round');
  } while (round.round.checked < 2);
  t.equal(round.round.removed.length, 1, 'the dead member went in a periodic round');
  t.same(
    tracker.peers().map((m) => m.port),
    [alive.port],
  );
});

t.test('a member on another network, or one that never answers, is removed', async (t) => {
  const tracker = await trackerFor(t, { helloTimeoutMs: 300 });
  const wrongNet = await FakeMember.start(t, 'member-regtest', 'regtest');
  // Accepts the TCP connection and never says anything.
  const mute = await FakeMember.start(t, 'member-mute');
  mute.server.removeAllListeners('connection');
  mute.server.on('connection', (s) => t.teardown(() => s.destroy()));
  const address = { host: '127.0.0.1', port: tracker.port };
  await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: wrongNet.port });
  await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: mute.port });
  const reasons = new Map<number, string>();
  tracker.on((e) => {
    if (e.type === 'removed') reasons.set(e.member.port, e.reason);
  });
  const round = await tracker.checkNow();
  t.equal(round.removed.length, 2);
  t.match(reasons.get(wrongNet.port), /^(remote-closed|socket-error)$/, 'the other network hangs up');
  t.equal(reasons.get(mute.port), 'handshake-timeout', 'silence times out');
  t.same(tracker.peers(), []);
});

t.test('probePeer reports a bad id and a non-HEY reply', async (t) => {
  const garbled = await FakeMember.start(t, 'x');
  garbled.server.removeAllListeners('connection');
  garbled.server.on('connection', (s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.write('no:good'));
    t.teardown(() => s.destroy());
  });
  const r1 = await probePeer({ host: '127.0.0.1', port: garbled.port }, { trackerId: 'tr', network: 'devnet', timeoutMs: 1_000 });
  t.same({ alive: r1.alive, reason: r1.alive ? '' : r1.reason }, { alive: false, reason: 'bad-id-line' });

  const chatty = await FakeMember.start(t, 'y');
  chatty.server.removeAllListeners('connection');
  chatty.server.on('connection', (s) => {
    s.on('error', () => undefined);
    let n = 0;
    s.on('data', () => (n++ === 0 ? s.write('y') : s.write('{"PING":{"nonce":1}}\x04')));
    t.teardown(() => s.destroy());
  });
  const r2 = await probePeer({ host: '127.0.0.1', port: chatty.port }, { trackerId: 'tr', network: 'devnet', timeoutMs: 1_000 });
  t.same({ alive: r2.alive, reason: r2.alive ? '' : r2.reason }, { alive: false, reason: 'unexpected-message' });
});

t.test('GETADDR over the peer protocol is answered with ADDR listing the members', async (t) => {
  const tracker = await trackerFor(t, { trackerId: 'tracker-addr' });
  const m1 = await FakeMember.start(t, 'member-one');
  const address = { host: '127.0.0.1', port: tracker.port };
  await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: m1.port });
  await tracker.checkNow(); // learns member-one's node id
  await joinTracker({ ...address, listenHost: 'localhost', listenPort: 18444 }); // not checked yet: no node id

  const d = await RawDialer.dial(t, tracker.peerPort, 'asker:18500');
  t.equal(d.remoteId, 'tracker-addr', 'bare id answers the id line');
  d.send(message('HELLO', helloOf('devnet', 'asker', 18500)));
  const hey = await d.next();
  const hello = await d.next();
  t.equal(hey?.method, 'HEY');
  t.equal(hello?.method, 'HELLO');
  t.ok(hello?.method === 'HELLO' && hello.payload.role === 'tracker' && hello.payload.network === devnetId);
  d.send(message('HEY', helloOf('devnet', 'asker', 18500)));
  d.send(message('GETADDR', {}));
  const addr = await d.next();
  t.equal(addr?.method, 'ADDR');
  t.same(addr?.method === 'ADDR' ? addr.payload.addresses : undefined, [
    { host: '127.0.0.1', port: m1.port, nodeId: 'member-one' },
    { host: 'localhost', port: 18444 },
  ]);
  d.send(message('GETADDR', {}));
  d.send(message('PING', { nonce: 42 }));
  t.same(await d.next(), { method: 'PONG', payload: { nonce: 42 } }, 'a second GETADDR on the connection is ignored: the PONG comes next');
});

t.test('the peer port refuses GETADDR before HELLO, another network and garbage', async (t) => {
  const tracker = await trackerFor(t);
  const early = await RawDialer.dial(t, tracker.peerPort, 'early:1');
  early.send(message('GETADDR', {}));
  await early.whenClosed();
  t.pass('GETADDR before HELLO closes');

  const other = await RawDialer.dial(t, tracker.peerPort, 'other:1');
  other.send(message('HELLO', helloOf('regtest', 'other', 1)));
  await other.whenClosed();
  t.pass('a HELLO of another network closes');

  const garbage = await RawDialer.dial(t, tracker.peerPort, 'garbage:1');
  garbage.socket.write('[1,2,3]\x04');
  await garbage.whenClosed();
  t.pass('a non-dictionary closes');

  const badId = await RawDialer.dial(t, tracker.peerPort, 'JOIN_CHAIN:localhost:9009');
  await badId.whenClosed();
  t.equal(badId.remoteId, undefined, 'a tracker command on the peer port gets no id and is closed');
});
