/**
 * The tracker against hostile sources over real sockets from distinct
 * addresses (the host end of a veth pair carries several, so each client
 * binds its own source address; loopback has no quotas): a source holds at
 * most its quota of connections and members, a member is recorded at the
 * address it joins from, a full table evicts from the largest source for a
 * smaller one, and a liveness round probes no more than its budget — while
 * an honest member from another source keeps being served and probed.
 */
import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { joinTracker } from '../../src/tracker/client.js';
import type { TrackerEvent } from '../../src/tracker/server.js';
import { FakeMember, greeted, LineClient, nextEvent, trackerFor } from '../tracker/helpers.js';
import { createNetns, netnsAvailable } from './netns.js';

if (!netnsAvailable()) {
  t.plan(0, 'network namespaces need root (ip netns add failed)');
} else {
  const ns = createNetns(t, 4);
  const [trackerIp, floodIp, honestIp, otherIp] = ns.outside as [string, string, string, string];

  t.test('one source holds at most its quota of connections on both listeners; others are still served', async (t) => {
    const tracker = await trackerFor(t, { host: trackerIp, maxConnectionsPerSource: 4 });
    const flood = [];
    for (let i = 0; i < 4; i++) flood.push(await greeted(t, tracker.port, { host: trackerIp, localAddress: floodIp }));
    const refused = nextEvent(tracker, (e): e is Extract<TrackerEvent, { type: 'connection-refused' }> => e.type === 'connection-refused');
    const fifth = connect({ host: trackerIp, port: tracker.port, localAddress: floodIp });
    fifth.on('error', () => undefined);
    t.teardown(() => fifth.destroy());
    let got = '';
    fifth.on('data', (d: Buffer) => (got += d.toString()));
    await once(fifth, 'close');
    t.equal(got, '', 'the fifth connection from the flooding address is closed before the greeting');
    t.same(await refused, { type: 'connection-refused', listener: 'text', address: floodIp });
    const honest = await greeted(t, tracker.port, { host: trackerIp, localAddress: honestIp });
    honest.write('JOIN_CHAIN:0.0.0.0:9001\n');
    t.match(await honest.line(), /^PID[0-9a-f]{32}$/, 'another source joins while the flood holds its quota');

    flood[0]!.socket.destroy();
    await flood[0]!.closedPromise;
    // The tracker sees the close a moment after the client: each try awaits its greeting or its close.
    let greetedAgain = false;
    for (let tries = 0; tries < 200 && !greetedAgain; tries++) {
      const c = await LineClient.open(t, tracker.port, { host: trackerIp, localAddress: floodIp });
      greetedAgain = (await c.line()) === 'Connection Successful';
    }
    t.ok(greetedAgain, 'a closed connection frees its place');

    const peerRefused = nextEvent(tracker, (e): e is Extract<TrackerEvent, { type: 'connection-refused' }> => e.type === 'connection-refused' && e.listener === 'peer');
    const peerSockets = [];
    for (let i = 0; i < 5; i++) {
      const s = connect({ host: trackerIp, port: tracker.peerPort, localAddress: floodIp });
      s.on('error', () => undefined);
      t.teardown(() => s.destroy());
      peerSockets.push(s);
      await once(s, 'connect');
    }
    t.same(await peerRefused, { type: 'connection-refused', listener: 'peer', address: floodIp }, 'the peer port counts per source too');
    await once(peerSockets[4]!, 'close');
  });

  t.test('a member is recorded at the address it joins from; one source cannot fill the table', async (t) => {
    const tracker = await trackerFor(t, { host: trackerIp, maxMembers: 12, maxMembersPerSource: 8 });
    const flood = await greeted(t, tracker.port, { host: trackerIp, localAddress: floodIp });
    // One write of 200 joins naming the honest peer's address and arbitrary hosts.
    flood.write(Array.from({ length: 200 }, (_, i) => `JOIN_CHAIN:${i % 2 === 0 ? honestIp : 'victim.example.org'}:${10_000 + i}\n`).join(''));
    const replies: string[] = [];
    for (let i = 0; i < 200; i++) replies.push((await flood.line())!);
    t.equal(replies.filter((r) => r.startsWith('PID')).length, 8, 'eight members from the flooding address');
    t.equal(replies.filter((r) => r.startsWith('ERROR SOURCE_FULL')).length, 192, 'every other join answered SOURCE_FULL');
    t.same(new Set(tracker.peers().map((m) => m.host)), new Set([floodIp]), 'recorded at the flooder\'s own address: the honest address and the name were not taken');

    const honest = await FakeMember.start(t, 'honest-member', 'devnet', honestIp);
    const joined = await joinTracker({ host: trackerIp, port: tracker.port, listenHost: honestIp, listenPort: honest.port, localAddress: honestIp });
    t.match(joined.peerId, /^PID/, 'the honest member joins at its own address');
    for (let port = 1; port <= 3; port++) await joinTracker({ host: trackerIp, port: tracker.port, listenHost: otherIp, listenPort: port, localAddress: otherIp });
    t.equal(tracker.peers().length, 12, 'the table is full');

    const evicted = nextEvent(tracker, (e): e is Extract<TrackerEvent, { type: 'evicted' }> => e.type === 'evicted');
    const late = await joinTracker({ host: trackerIp, port: tracker.port, listenHost: honestIp, listenPort: honest.port + 1, localAddress: honestIp });
    t.match((await evicted).member, { host: floodIp, source: floodIp }, 'a member of the largest source made room');
    t.ok(tracker.peers().some((m) => m.peerId === late.peerId));
    t.equal(tracker.peers().filter((m) => m.source === floodIp).length, 7);
    await t.rejects(
      joinTracker({ host: trackerIp, port: tracker.port, listenHost: otherIp, listenPort: 4, localAddress: otherIp }).then(() =>
        joinTracker({ host: trackerIp, port: tracker.port, listenHost: otherIp, listenPort: 5, localAddress: otherIp }).then(() =>
          joinTracker({ host: trackerIp, port: tracker.port, listenHost: otherIp, listenPort: 6, localAddress: otherIp }),
        ),
      ),
      { code: 'ERR_TRACKER_REFUSED', remoteCode: 'TRACKER_FULL' },
      'eviction stops once sources are even: 5 (other) against 5 (flood) and the sixth is refused',
    );

    const round = await tracker.checkNow();
    t.ok(round.checked <= 1_000 && round.checked === 12, 'every member probed: the budget is above the table');
    t.ok(tracker.peers().some((m) => m.peerId === joined.peerId && m.nodeId === 'honest-member'), 'the honest member answered its probe at its own address and stays');
    t.notOk(tracker.peers().some((m) => m.source === floodIp), 'the flooder\'s members, probed at its own address where nothing listens, are gone');
  });

  t.test('a liveness round probes at most maxProbesPerRound members, the longest unchecked first', async (t) => {
    const tracker = await trackerFor(t, { host: trackerIp, maxProbesPerRound: 3 });
    const members = [];
    for (let i = 0; i < 7; i++) {
      const m = await FakeMember.start(t, `member-${i}`, 'devnet', honestIp);
      members.push(m);
      await joinTracker({ host: trackerIp, port: tracker.port, listenHost: honestIp, listenPort: m.port, localAddress: honestIp });
    }
    const rounds = [];
    for (let i = 0; i < 3; i++) rounds.push(await tracker.checkNow());
    t.same(
      rounds.map((r) => [r.checked, r.alive]),
      [
        [3, 3],
        [3, 3],
        [3, 3],
      ],
      'three probes a round, all answered',
    );
    t.ok(
      tracker.peers().every((m) => m.nodeId !== undefined),
      'after three rounds every member has been checked once (7 members, budget 3)',
    );
  });
}
