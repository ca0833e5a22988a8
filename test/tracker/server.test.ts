import { createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import { getPeers, joinTracker, TrackerClient, TrackerError } from '../../src/tracker/client.js';
import { IDLE_FLUSH_MS, MAX_REQUEST_LINE_BYTES, PID_PATTERN } from '../../src/tracker/protocol.js';
import { closedPort, greeted, LineClient, nextEvent, trackerFor } from './helpers.js';

/*
 * The tracker's text protocol over real TCP on 127.0.0.1 (document 001):
 * greeting, JOIN_CHAIN, GET_PEERS, error lines, framing with and without
 * line ends, and the client a peer uses.
 */

t.test('greets every connection with "Connection Successful"', async (t) => {
  const tracker = await trackerFor(t);
  const a = await LineClient.open(t, tracker.port);
  const b = await LineClient.open(t, tracker.port);
  t.equal(await a.line(), 'Connection Successful');
  t.equal(await b.line(), 'Connection Successful');
});

t.test('JOIN_CHAIN gives distinct peers distinct PIDs, and the same PID to the same address', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  const pids: string[] = [];
  for (const port of [9001, 9002, 9003]) {
    c.write(`JOIN_CHAIN:127.0.0.1:${port}\n`);
    const pid = await c.line();
    t.match(pid, PID_PATTERN, `PID for port ${port}`);
    pids.push(pid!);
  }
  t.equal(new Set(pids).size, 3, 'three distinct PIDs');
  c.write('JOIN_CHAIN:127.0.0.1:9002\n');
  t.equal(await c.line(), pids[1], 'joining again from the same address returns its PID');
  t.same(
    tracker.peers().map((p) => [p.peerId, p.host, p.port]),
    [
      [pids[0], '127.0.0.1', 9001],
      [pids[1], '127.0.0.1', 9002],
      [pids[2], '127.0.0.1', 9003],
    ],
  );
});

t.test('GET_PEERS lists the other members as CPSS + a JSON list of {peer_id, host, port}', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('JOIN_CHAIN:127.0.0.1:9001\r\n');
  const a = (await c.line())!;
  c.write('JOIN_CHAIN:localhost:9002\r\n');
  const b = (await c.line())!;
  c.write('JOIN_CHAIN:[::1]:9003\r\n');
  const d = (await c.line())!;
  c.write(`GET_PEERS:${a}\r\n`);
  const line = (await c.line())!;
  t.ok(line.startsWith('CPSS['), line);
  const list = JSON.parse(line.slice('CPSS'.length)) as unknown[];
  t.same(list, [
    { peer_id: b, host: 'localhost', port: 9002 },
    { peer_id: d, host: '::1', port: 9003 },
  ]);
  for (const entry of list) t.same(Object.keys(entry as object).sort(), ['host', 'peer_id', 'port'], 'exactly three fields, no socket');
});

t.test('an unknown PID gets an error line and the connection stays usable', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('GET_PEERS:PID0123456789abcdef0123456789abcdef\n');
  t.match(await c.line(), /^ERROR UNKNOWN_PEER /);
  c.write('JOIN_CHAIN:127.0.0.1:9001\n');
  t.match(await c.line(), PID_PATTERN);
});

t.test('malformed and unknown commands get error lines; the connection stays usable', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('HELLO\nJOIN_CHAIN:localhost\nJOIN_CHAIN:localhost:70000\nGET_PEERS:\n\x00\xff\n');
  t.match(await c.line(), /^ERROR UNKNOWN_COMMAND /);
  t.match(await c.line(), /^ERROR MALFORMED /);
  t.match(await c.line(), /^ERROR MALFORMED /);
  t.match(await c.line(), /^ERROR MALFORMED /);
  t.match(await c.line(), /^ERROR UNKNOWN_COMMAND /);
  c.write('JOIN_CHAIN:localhost:1\n');
  t.match(await c.line(), PID_PATTERN);
});

t.test('requests with LF, with CRLF, and two in one write are each answered in order', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('JOIN_CHAIN:127.0.0.1:9001\n');
  const a = (await c.line())!;
  c.write('JOIN_CHAIN:127.0.0.1:9002\r\n');
  const b = (await c.line())!;
  t.match(a, PID_PATTERN);
  t.match(b, PID_PATTERN);
  c.write(`GET_PEERS:${a}\r\nGET_PEERS:${b}\n`);
  t.same(JSON.parse((await c.line())!.slice(4)), [{ peer_id: b, host: '127.0.0.1', port: 9002 }]);
  t.same(JSON.parse((await c.line())!.slice(4)), [{ peer_id: a, host: '127.0.0.1', port: 9001 }]);
  // A request split over several writes, byte by byte.
  for (const ch of `GET_PEERS:${a}\r\n`) c.write(ch);
  t.ok((await c.line())!.startsWith('CPSS['), 'split request answered');
});

t.test('a request without line end is answered after the idle delay; a later line end is ignored', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  const sent = Date.now();
  c.write('JOIN_CHAIN:127.0.0.1:9001');
  const pid = await c.line();
  const waited = Date.now() - sent;
  t.match(pid, PID_PATTERN);
  t.ok(waited >= IDLE_FLUSH_MS - 5, `answered after the idle delay (${waited} ms)`);
  c.write('\r\n');
  c.write(`GET_PEERS:${pid}`);
  t.equal(await c.line(), 'CPSS[]', 'the stray CRLF produced no reply; the next request was answered');
  c.write('GET_PEERS:PIDnope');
  t.match(await c.line(), /^ERROR UNKNOWN_PEER/);
});

t.test('closing the sending side ends an unterminated request: it is answered, then the tracker closes', async (t) => {
  const tracker = await trackerFor(t, { idleFlushMs: 60_000 }); // the idle flush cannot be what answers
  const c = await greeted(t, tracker.port);
  c.write('JOIN_CHAIN:127.0.0.1:9001');
  c.socket.end();
  t.match(await c.line(), PID_PATTERN);
  await c.closedPromise;
  t.equal(tracker.peers().length, 1);
});

t.test('an unterminated request that can never become valid is answered with an error after the idle delay', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('HELLO TRACKER');
  t.match(await c.line(), /^ERROR UNKNOWN_COMMAND/);
  c.write('JOIN_CHAIN:localhost:99999');
  t.match(await c.line(), /^ERROR MALFORMED/);
  c.write('JOIN_CHAIN:local');
  c.write('host:9009\n');
  t.match(await c.line(), PID_PATTERN, 'a prefix waits for the rest');
});

t.test('a line over the limit gets REQUEST_TOO_LONG and the connection is closed', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('J'.repeat(MAX_REQUEST_LINE_BYTES + 1));
  t.match(await c.line(), /^ERROR REQUEST_TOO_LONG/);
  await c.closedPromise;
  t.ok(c.closed, 'closed');
  const again = await greeted(t, tracker.port);
  again.write('JOIN_CHAIN:localhost:1\n');
  t.match(await again.line(), PID_PATTERN, 'the tracker still serves others');
});

t.test('JOIN_CHAIN with an unspecified host records the address the request came from', async (t) => {
  const tracker = await trackerFor(t);
  const c = await greeted(t, tracker.port);
  c.write('JOIN_CHAIN:0.0.0.0:9005\n');
  await c.line();
  t.equal(tracker.peers()[0]!.host, '127.0.0.1');
});

t.test('the tracker refuses joins past maxMembers with TRACKER_FULL', async (t) => {
  const tracker = await trackerFor(t, { maxMembers: 2 });
  const c = await greeted(t, tracker.port);
  c.write('JOIN_CHAIN:h:1\nJOIN_CHAIN:h:2\nJOIN_CHAIN:h:3\nJOIN_CHAIN:h:1\n');
  t.match(await c.line(), PID_PATTERN);
  t.match(await c.line(), PID_PATTERN);
  t.match(await c.line(), /^ERROR TRACKER_FULL/);
  t.match(await c.line(), PID_PATTERN, 'a member joining again is not refused');
});

t.test('PIDs come from the injected randomness; a collision draws again', async (t) => {
  let calls = 0;
  const tracker = await trackerFor(t, {
    trackerId: 'tracker-test',
    // The first two peer ids drawn are equal; the tracker must draw a third.
    randomBytes: (n) => new Uint8Array(n).fill(calls++ < 2 ? 7 : 9),
  });
  const a = await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: '127.0.0.1', listenPort: 1 });
  const b = await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: '127.0.0.1', listenPort: 2 });
  t.equal(a.peerId, 'PID' + '07'.repeat(16));
  t.equal(b.peerId, 'PID' + '09'.repeat(16));
});

t.test('client: joinTracker and getPeers; the joined event fires', async (t) => {
  const tracker = await trackerFor(t);
  const address = { host: '127.0.0.1', port: tracker.port };
  const joined = nextEvent(tracker, (e): e is Extract<typeof e, { type: 'joined' }> => e.type === 'joined');
  const a = await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: 18001 });
  t.equal((await joined).member.peerId, a.peerId);
  const b = await joinTracker({ ...address, listenHost: 'localhost', listenPort: 18002 });
  t.not(a.peerId, b.peerId);
  t.same(await getPeers({ ...address, peerId: a.peerId }), [{ peerId: b.peerId, host: 'localhost', port: 18002 }]);
  t.same(await getPeers({ ...address, peerId: b.peerId }), [{ peerId: a.peerId, host: '127.0.0.1', port: 18001 }]);
});

t.test('client errors are typed', async (t) => {
  const tracker = await trackerFor(t);
  const address = { host: '127.0.0.1', port: tracker.port };
  await t.rejects(getPeers({ ...address, peerId: 'PIDnobody' }), { name: 'TrackerError', code: 'ERR_TRACKER_UNKNOWN_PEER', remoteCode: 'UNKNOWN_PEER' });
  await t.rejects(joinTracker({ ...address, listenHost: 'bad host', listenPort: 1 }), { code: 'ERR_TRACKER_REFUSED', remoteCode: 'MALFORMED' });
  await t.rejects(joinTracker({ ...address, listenHost: 'h', listenPort: 0 }), RangeError);

  // Nothing listening: unreachable.
  await t.rejects(getPeers({ host: '127.0.0.1', port: await closedPort(), peerId: 'PIDa' }), { code: 'ERR_TRACKER_UNREACHABLE' });

  // A server that accepts and says nothing: timeout. One that greets wrongly: protocol error. One that hangs up: closed.
  const sockets = new Set<Socket>();
  const behaviours = {
    silent: (_s: Socket) => undefined,
    wrong: (s: Socket) => s.write('Welcome\n'),
    hangup: (s: Socket) => s.end('Connection Successful\n'),
  };
  for (const [name, behave] of Object.entries(behaviours)) {
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      behave(s);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as AddressInfo).port;
    const want = { silent: 'ERR_TRACKER_TIMEOUT', wrong: 'ERR_TRACKER_PROTOCOL', hangup: 'ERR_TRACKER_CLOSED' }[name as keyof typeof behaviours];
    const err = await getPeers({ host: '127.0.0.1', port, peerId: 'PIDa', timeoutMs: 200 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof TrackerError, `${name}: a TrackerError`);
    t.equal((err as TrackerError).code, want, name);
  }
});

t.test('TrackerClient joins again when the liveness check has dropped it', async (t) => {
  const tracker = await trackerFor(t);
  const deadPort = await closedPort();
  const client = new TrackerClient({ host: '127.0.0.1', port: tracker.port });
  const first = await client.join('127.0.0.1', deadPort);
  const other = await joinTracker({ host: '127.0.0.1', port: tracker.port, listenHost: 'localhost', listenPort: 18011 });
  t.same(await client.getPeers(), [{ peerId: other.peerId, host: 'localhost', port: 18011 }]);
  const round = await tracker.checkNow(); // nothing listens on either port: both are removed
  t.same(round.removed.sort(), [first, other.peerId].sort());
  t.same(await client.getPeers(), [], 'getPeers joined again instead of failing');
  t.equal(tracker.peers().length, 1, 'member again');
  t.not(client.currentPeerId, first, 'with a new PID');
});
