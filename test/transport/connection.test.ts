/**
 * Peer connections over real TCP on 127.0.0.1: the id exchange of
 * python-p2p-network (seeds 002) byte for byte, the HELLO/HEY exchange of
 * seeds 004, framing edge cases, every misbehaviour with its reason, the
 * python-p2p-network events exactly once, liveness and backpressure.
 */
import t from 'tap';
import { createServer } from 'node:net';
import { deflateSync } from 'node:zlib';
import {
  DISCONNECT_REASONS,
  disconnectPenalty,
  misbehaviourPoints,
  BAN_SCORE,
  parseIdLine,
  parseIdReply,
  type DisconnectReason,
} from '../../src/transport/connection.js';
import { MAX_FRAME_BYTES, MAX_HANDSHAKE_FRAME_BYTES } from '../../src/transport/limits.js';
import { message, type Message } from '../../src/transport/messages.js';
import { dial, DialError } from '../../src/transport/tcp.js';
import { H, NET, OTHER_NET, RawPeer, STATUS, dialRecorded, frame, helloPayload, rawFrame, startListener } from './helpers.js';

t.test('parseIdLine: python-p2p-network id lines', async (t) => {
  const ok = parseIdLine(Buffer.from('abc_12-X:8001'));
  t.match(ok, { status: 'ok', nodeId: 'abc_12-X', port: 8001 });
  t.equal(ok.status === 'ok' && ok.rest.length, 0);
  t.match(parseIdLine(Buffer.from('a'.repeat(128) + ':1')), { status: 'ok' }, 'a 128-character id (python SHA-512 hex ids)');
  t.match(parseIdLine(Buffer.from('abc')), { status: 'incomplete' }, 'no colon yet: wait for more');
  t.match(parseIdLine(Buffer.from('abc:')), { status: 'incomplete' }, 'no port digit yet: wait for more');
  const glued = parseIdLine(Buffer.from('abc:8001{"HELLO":{}}\x04'));
  t.match(glued, { status: 'ok', nodeId: 'abc', port: 8001 });
  t.equal(glued.status === 'ok' && glued.rest.toString(), '{"HELLO":{}}\x04', 'a message glued after the id line is kept');
  const bad: [string, RegExp][] = [
    ['a:b:8001', /port .* not a decimal number|more than one/],
    ['a:8001:x', /more than one ":"/],
    [':8001', /empty node id/],
    ['a'.repeat(129) + ':1', /longer than 128/],
    ['a'.repeat(129), /longer than 128/],
    ['abc:80x', /not a decimal number/],
    ['abc:123456', /above 65535/],
    ['abc:65536', /above 65535/],
    ['ab c:1', /character outside/],
    ['abc{"HELLO":{}}', /no port/],
    ['abc:{"HELLO":{}}', /no port/],
    ['\x04', /character outside/],
  ];
  for (const [line, why] of bad) t.match(parseIdLine(Buffer.from(line)), { status: 'error', message: why }, JSON.stringify(line));
  t.match(parseIdReply(Buffer.from('server')), { status: 'ok', nodeId: 'server' });
  t.match(parseIdReply(Buffer.from('server:1')), { status: 'error', message: /bare node id/ });
});

t.test('disconnect reasons: protocol violations score, consensus-invalid data and failed proofs are fatal, everything else costs nothing', async (t) => {
  const scored = DISCONNECT_REASONS.filter((r) => disconnectPenalty(r) === 'score');
  t.same(scored.sort(), ([
    'bad-id-line', 'frame-too-large', 'empty-frame', 'bad-frame', 'malformed-json', 'not-an-object', 'not-one-key',
    'unknown-method', 'bad-payload', 'unexpected-message', 'id-mismatch', 'bad-auth', 'invalid-block', 'invalid-transaction',
  ] as DisconnectReason[]).sort());
  const fatal = DISCONNECT_REASONS.filter((r) => misbehaviourPoints(r) >= BAN_SCORE);
  t.same(fatal.sort(), (['bad-auth', 'frame-too-large', 'invalid-block', 'invalid-transaction'] as DisconnectReason[]).sort());
  t.ok(misbehaviourPoints('malformed-json') * 4 < BAN_SCORE, 'a few malformed messages are tolerated');
  t.ok(misbehaviourPoints('unknown-method') * 50 < BAN_SCORE, 'messages not understood are tolerated many times');
  t.equal(misbehaviourPoints('wrong-network'), 0, 'another network is no attack');
});

t.test('a python-p2p-network style client: id exchange byte for byte, HELLO/HEY, messages, clean close', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.sendId('py-node', 9000);
  const server = await nextConnection();
  t.equal(await py.readId(), 'server');
  t.equal(py.firstChunkRaw, 'server', 'the acceptor answers with its bare id and nothing glued after it');
  t.equal(server.conn.remoteNodeId, 'py-node');
  t.equal(server.conn.remoteListenPort, 9000);
  t.equal(server.conn.direction, 'inbound');

  await py.send(message('HELLO', helloPayload('py-node')));
  const hey = await py.expect('HEY');
  const hello = await py.expect('HELLO');
  t.match(hey.payload, { network: NET, nodeId: 'server', height: STATUS.height, tip: STATUS.tip, chainWork: STATUS.chainWork, port: listener.port });
  t.same(hello.payload.nodeId, 'server');
  t.equal(server.counts.inbound_node_connected, 0, 'not connected before the third leg');
  const connected = new Promise((r) => server.conn.once('inbound_node_connected', r));
  await py.send(message('HEY', helloPayload('py-node')));
  await connected;
  t.match(server.conn.remoteHello, { nodeId: 'py-node', network: NET, port: 9000 });
  t.equal((await server.conn.ready).nodeId, 'py-node');

  await py.send(message('GETADDR', {}));
  const [got] = await server.messagesCount(1);
  t.same(got, { method: 'GETADDR', payload: {} });
  server.conn.send(message('ADDR', { addresses: [{ host: '127.0.0.1', port: 9001, nodeId: 'other' }] }));
  t.same((await py.expect('ADDR')).payload, { addresses: [{ host: '127.0.0.1', port: 9001, nodeId: 'other' }] });

  py.end();
  const info = await server.ended();
  t.match(info, { reason: 'remote-closed', initiator: 'remote', handshakeCompleted: true, penalty: 'none' });
  t.same(server.counts, {
    outbound_node_connected: 0,
    inbound_node_connected: 1,
    outbound_node_disconnected: 0,
    inbound_node_disconnected: 1,
    node_message: 1,
    node_disconnect_with_outbound_node: 0,
  }, 'each event exactly once, the clean remote close included');
  t.equal(server.conn.phase, 'closed');
});

t.test('frames split across writes and several frames in one write', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('splitter');
  const server = await nextConnection();
  await server.conn.ready;
  const msgs: Message[] = [
    message('BROADCASTBLOCK', { hashes: [H(1)], height: 1 }),
    message('GETBLOCK', { hash: H(2) }),
    message('BROADCASTTRANSACTION', { txids: [H(3), H(4)] }),
  ];
  const one = frame(msgs[0]!);
  for (let i = 0; i < one.length; i += 7) await py.write(one.subarray(i, i + 7)); // split into 7-byte writes
  await py.write(Buffer.concat([frame(msgs[1]!), frame(msgs[2]!), frame(msgs[0]!).subarray(0, 10)]));
  await py.write(frame(msgs[0]!).subarray(10));
  t.same(await server.messagesCount(4), [...msgs, msgs[0]!]);
});

t.test('a message glued to the id line in the same chunk is tolerated', async (t) => {
  // The client did not wait for the id reply, so the reply (id, then HEY and
  // HELLO answering its glued HELLO) may arrive glued too: it splits at '{'.
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.write(Buffer.concat([Buffer.from('eager:9000'), frame(message('HELLO', helloPayload('eager')))]));
  t.equal(await py.readId(), 'server');
  await py.expect('HEY');
  await py.expect('HELLO');
  await py.send(message('HEY', helloPayload('eager')));
  const server = await nextConnection();
  t.equal((await server.conn.ready).nodeId, 'eager');
});

t.test('a zlib-compressed frame is accepted; bzip2 ends the connection without a ban', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.sendId('zipper', 9000);
  await py.readId();
  const json = JSON.stringify({ HELLO: { ...helloPayload('zipper'), chainWork: '2', agent: 'python-p2p-network 1.2' } });
  await py.write(Buffer.concat([Buffer.from(Buffer.concat([deflateSync(Buffer.from(json)), Buffer.from('zlib')]).toString('base64')), Buffer.of(0x02, 0x04)]));
  await py.expect('HEY');
  await py.expect('HELLO');
  await py.send(message('HEY', helloPayload('zipper', { agent: 'python-p2p-network 1.2' })));
  const server = await nextConnection();
  t.equal((await server.conn.ready).agent, 'python-p2p-network 1.2');
  await py.write(Buffer.concat([Buffer.from(Buffer.from('BZh9...bzip2').toString('base64')), Buffer.of(0x02, 0x04)]));
  const reject = await py.untilClosed();
  t.match(reject, { code: 'unsupported-compression' });
  t.match(await server.ended(), { reason: 'unsupported-compression', penalty: 'none' });
});

t.test('misbehaviour after the handshake ends the connection with its reason', async (t) => {
  const cases: { name: string; bytes: Buffer; reason: DisconnectReason }[] = [
    { name: 'a bad payload', bytes: rawFrame('{"GETBLOCK": {"hash": 7}}'), reason: 'bad-payload' },
    { name: 'an empty frame', bytes: Buffer.of(0x04), reason: 'empty-frame' },
    { name: 'invalid UTF-8', bytes: Buffer.of(0xc3, 0x28, 0x04), reason: 'bad-frame' },
    { name: 'a HELLO from another network', bytes: frame(message('HELLO', helloPayload('bad', { network: OTHER_NET }))), reason: 'wrong-network' },
  ];
  const { listener, nextConnection } = await startListener(t);
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const py = await RawPeer.connect(t, listener.port);
      await py.handshake('bad');
      const server = await nextConnection();
      await server.conn.ready;
      await py.write(c.bytes);
      const reject = await py.untilClosed();
      const info = await server.ended();
      t.match(info, { reason: c.reason, initiator: 'local', handshakeCompleted: true, penalty: disconnectPenalty(c.reason) });
      t.match(reject, { code: c.reason }, 'a REJECT explains it before the close');
      t.equal(server.counts.inbound_node_disconnected, 1);
      t.equal(server.counts.node_message, 0);
    });
  }
});

t.test('an application message the peer does not understand is answered with REJECT, the connection stays open, no ban', async (t) => {
  const cases: { name: string; bytes: Buffer; code: string }[] = [
    { name: 'malformed JSON (a string to python-p2p-network)', bytes: rawFrame('{"PING": {"nonce": 1}'), code: 'malformed-json' },
    { name: 'a plain string (python send(str))', bytes: rawFrame('hello world'), code: 'malformed-json' },
    { name: 'a JSON list', bytes: rawFrame('[1, 2, 3]'), code: 'not-an-object' },
    { name: 'a JSON number', bytes: rawFrame('42'), code: 'not-an-object' },
    { name: 'two keys', bytes: rawFrame('{"PING": {"nonce": 1}, "PONG": {"nonce": 1}}'), code: 'not-one-key' },
    { name: 'an unknown method', bytes: rawFrame('{"GET_CHAIN": "PID1"}'), code: 'unknown-method' },
    { name: 'an application dictionary', bytes: rawFrame('{"chat": "hi", "from": "py"}'), code: 'not-one-key' },
  ];
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('chatty');
  const server = await nextConnection();
  await server.conn.ready;
  for (const c of cases) {
    await py.write(c.bytes);
    const reject = await py.expect('REJECT');
    t.match(reject.payload, { code: 'unknown-message', reason: new RegExp(`^${c.code}: `) }, c.name);
  }
  await py.send(message('GETADDR', {}));
  const [got] = await server.messagesCount(1);
  t.same(got, { method: 'GETADDR', payload: {} }, 'the connection still serves the protocol');
  t.equal(server.conn.counters.messagesRejected, cases.length);
  t.equal(server.conn.phase, 'open');
  py.end();
  t.match(await server.ended(), { reason: 'remote-closed', penalty: 'none' });
});

t.test('misbehaviour during the handshake', async (t) => {
  const { listener, nextConnection } = await startListener(t);

  await t.test('a wrong network in HELLO', async (t) => {
    const py = await RawPeer.connect(t, listener.port);
    await py.sendId('alien', 9000);
    await py.readId();
    await py.send(message('HELLO', helloPayload('alien', { network: OTHER_NET })));
    t.match(await py.untilClosed(), { code: 'wrong-network' });
    const server = await nextConnection();
    t.match(await server.ended(), { reason: 'wrong-network', handshakeCompleted: false, penalty: 'none' });
    t.equal(server.counts.inbound_node_connected, 0);
    t.equal(server.counts.inbound_node_disconnected, 1, 'the disconnect is reported even though the handshake never completed');
  });

  await t.test('a message before the handshake completes', async (t) => {
    const py = await RawPeer.connect(t, listener.port);
    await py.sendId('rusher', 9000);
    await py.readId();
    await py.send(message('GETADDR', {}));
    t.match(await py.untilClosed(), { code: 'unexpected-message' });
    t.match(await (await nextConnection()).ended(), { reason: 'unexpected-message', penalty: 'score' });
  });

  await t.test('a HELLO whose nodeId is not the exchanged id', async (t) => {
    const py = await RawPeer.connect(t, listener.port);
    await py.sendId('me', 9000);
    await py.readId();
    await py.send(message('HELLO', helloPayload('someone-else')));
    await py.untilClosed();
    t.match(await (await nextConnection()).ended(), { reason: 'id-mismatch', penalty: 'score' });
  });

  await t.test('an unknown method before the handshake', async (t) => {
    const py = await RawPeer.connect(t, listener.port);
    await py.sendId('unknown', 9000);
    await py.readId();
    await py.write(rawFrame('{"JOIN_CHAIN": "127.0.0.1:1"}'));
    await py.untilClosed();
    t.match(await (await nextConnection()).ended(), { reason: 'unknown-method' });
  });

  await t.test('a frame over the handshake limit is refused before buffering', async (t) => {
    const py = await RawPeer.connect(t, listener.port);
    await py.sendId('big', 9000);
    await py.readId();
    await py.write(Buffer.alloc(MAX_HANDSHAKE_FRAME_BYTES + 1, 0x20));
    await py.untilClosed();
    const server = await nextConnection();
    t.match(await server.ended(), { reason: 'frame-too-large', penalty: 'score' });
    t.ok(server.conn.counters.receiveBufferPeakBytes <= MAX_HANDSHAKE_FRAME_BYTES);
  });
});

t.test('bad id lines are refused with bad-id-line and the accept loop lives on', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  for (const line of ['a:b:9000', 'a:9000:1', ':9000', 'x'.repeat(129) + ':1', 'abc:port', 'abc:99999', 'sp ace:1', '{"HELLO":{}}\x04']) {
    const py = await RawPeer.connect(t, listener.port);
    await py.write(line);
    await py.closed;
    const server = await nextConnection();
    const info = await server.ended();
    t.match(info, { reason: 'bad-id-line', penalty: 'score', handshakeCompleted: false }, JSON.stringify(line));
    t.equal(server.conn.counters.bytesSent, 0, 'nothing is sent back (a python dialer would take it for an id)');
  }
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('after-the-bad-ones');
  t.equal((await (await nextConnection()).conn.ready).nodeId, 'after-the-bad-ones', 'a good client is still served');
});

t.test('an oversized frame disconnects without being buffered', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('flood');
  const server = await nextConnection();
  await server.conn.ready;
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let written = 0;
  const done = py.untilClosed();
  let closed = false;
  void done.then(() => (closed = true));
  while (!closed && written <= MAX_FRAME_BYTES + chunk.length) {
    await py.write(chunk);
    written += chunk.length;
  }
  t.match(await done, { code: 'frame-too-large' });
  const info = await server.ended();
  t.match(info, { reason: 'frame-too-large', penalty: 'score' });
  const peak = server.conn.counters.receiveBufferPeakBytes;
  t.ok(peak <= MAX_FRAME_BYTES, `at most the limit was ever buffered (${peak} bytes)`);
  t.ok(peak > MAX_FRAME_BYTES - 2 * chunk.length, 'the frame was buffered up to the limit (the test really reached it)');
  t.equal(server.conn.receiveBufferedBytes, 0, 'and nothing is held after the refusal');
});

t.test('handshake between two PeerConnections, both ways, events exactly once', async (t) => {
  for (const [acceptorId, dialerId] of [['alpha', 'beta'], ['beta', 'alpha']] as const) {
    await t.test(`${dialerId} dials ${acceptorId}`, async (t) => {
      const { listener, nextConnection } = await startListener(t, { nodeId: acceptorId, agent: 'acceptor' });
      const out = await dialRecorded(t, { port: listener.port, nodeId: dialerId, listenPort: 4321, agent: 'dialer', status: () => ({ height: 3, tip: H(3), chainWork: 0xabcn }) });
      const inbound = await nextConnection();
      const [outHello, inHello] = await Promise.all([out.conn.ready, inbound.conn.ready]);
      t.match(outHello, { nodeId: acceptorId, port: listener.port, height: STATUS.height, tip: STATUS.tip, chainWork: STATUS.chainWork, agent: 'acceptor' });
      t.match(inHello, { nodeId: dialerId, port: 4321, height: 3, tip: H(3), chainWork: 0xabcn, agent: 'dialer' });
      t.equal(out.conn.remoteNodeId, acceptorId);
      t.equal(out.conn.remoteListenPort, listener.port);
      t.equal(inbound.conn.remoteListenPort, 4321);
      t.equal(out.conn.direction, 'outbound');
      t.equal(inbound.conn.direction, 'inbound');

      out.conn.send(message('GETBLOCK', { hash: H(9) }));
      t.same(await inbound.messagesCount(1), [message('GETBLOCK', { hash: H(9) })]);
      inbound.conn.send(message('LISTOFBLOCKS', { hashes: [H(1), H(2)] }));
      t.same(await out.messagesCount(1), [message('LISTOFBLOCKS', { hashes: [H(1), H(2)] })]);

      // We actively disconnect the outbound node: python's node_disconnect_with_outbound_node, with a last message.
      out.conn.once('node_disconnect_with_outbound_node', (c) => c.send(message('REJECT', { message: '', code: 'goodbye', reason: 'last words' })));
      const outInfo = await out.conn.close('duplicate-connection');
      const inInfo = await inbound.ended();
      await out.ended();
      t.match(outInfo, { reason: 'duplicate-connection', initiator: 'local', penalty: 'none', handshakeCompleted: true });
      t.match(inInfo, { reason: 'remote-closed', initiator: 'remote', remoteReject: { code: 'goodbye' } }, 'the last message arrived before the close');
      t.same(out.order, ['outbound_node_connected', 'node_message', 'node_disconnect_with_outbound_node', 'outbound_node_disconnected']);
      t.same(inbound.order, ['inbound_node_connected', 'node_message', 'node_message', 'inbound_node_disconnected'], 'the REJECT after the handshake is a node_message');
      t.equal(out.conn.send(message('PING', { nonce: 1 })), false, 'sending on a closed connection is a no-op');
    });
  }
});

t.test('a clean remote close of an outbound connection fires outbound_node_disconnected once', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const out = await dialRecorded(t, { port: listener.port });
  const inbound = await nextConnection();
  await out.conn.ready;
  await inbound.conn.close('shutdown');
  const info = await out.ended();
  t.match(info, { reason: 'remote-closed', initiator: 'remote', handshakeCompleted: true });
  t.equal(out.counts.outbound_node_disconnected, 1);
  t.equal(out.counts.outbound_node_connected, 1);
  t.equal(out.counts.node_disconnect_with_outbound_node, 0, 'only for disconnects we start');
  t.equal(out.counts.inbound_node_connected + out.counts.inbound_node_disconnected, 0);
});

t.test('a node that dials itself is refused on both sides with self-connection', async (t) => {
  const { listener, nextConnection } = await startListener(t, { nodeId: 'narcissus' });
  const out = await dialRecorded(t, { port: listener.port, nodeId: 'narcissus' });
  const inbound = await nextConnection();
  t.match(await out.ended(), { reason: 'self-connection', penalty: 'none' });
  t.match(await inbound.ended(), { reason: 'self-connection' });
  await t.rejects(out.conn.ready, { code: 'ERR_CONNECTION_CLOSED' });
});

t.test('a dialer on another network is disconnected; the acceptor sees wrong-network', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const out = await dialRecorded(t, { port: listener.port, network: OTHER_NET });
  const inbound = await nextConnection();
  t.match(await inbound.ended(), { reason: 'wrong-network', penalty: 'none' });
  t.match(await out.ended(), { reason: 'remote-closed', remoteReject: { code: 'wrong-network' } });
  t.equal(out.counts.outbound_node_connected, 0);
  t.equal(out.counts.outbound_node_disconnected, 1);
});

t.test('handshake timeout', async (t) => {
  const { listener, nextConnection } = await startListener(t, { handshakeTimeoutMs: 150 });
  const py = await RawPeer.connect(t, listener.port);
  await py.sendId('silent', 9000);
  await py.readId();
  t.match(await (await nextConnection()).ended(), { reason: 'handshake-timeout', penalty: 'none', handshakeCompleted: false });
});

t.test("status refresh: a HELLO every statusRefreshMs, and the HEY that answers it updates the remote's height and the latency", async (t) => {
  const { listener, nextConnection } = await startListener(t, { statusRefreshMs: 80 });
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('busy', 9000, { height: 3 });
  const server = await nextConnection();
  await server.conn.ready;
  t.equal(server.conn.remoteHello?.height, 3, 'the handshake height');
  const handshakeLatency = server.conn.latencyMs;
  t.ok(handshakeLatency !== undefined && handshakeLatency >= 0, `the handshake's round trip is the first latency (${handshakeLatency} ms)`);
  await py.expect('HELLO');
  t.pass('a HELLO refresh arrives after statusRefreshMs');
  await py.send(message('HEY', helloPayload('busy', { height: 42 })));
  await py.expect('HELLO');
  t.pass('the next refresh follows once the first was answered');
  t.equal(server.conn.remoteHello?.height, 42, "the HEY's height replaces the handshake's");
  t.ok(server.conn.latencyMs !== undefined && server.conn.latencyMs >= 0, `latency of the refresh (${server.conn.latencyMs} ms)`);
});

t.test('liveness: PINGs are sent after silence and a silent peer is dropped', async (t) => {
  const { listener, nextConnection } = await startListener(t, { pingIntervalMs: 60, pingTimeoutMs: 120 });
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('sleepy');
  const server = await nextConnection();
  await server.conn.ready;
  const ping = await py.expect('PING');
  await py.send(message('PONG', { nonce: ping.payload.nonce }));
  const ping2 = await py.expect('PING');
  t.ok(server.conn.latencyMs !== undefined && server.conn.latencyMs >= 0, `latency measured (${server.conn.latencyMs} ms)`);
  t.not(ping2.payload.nonce, ping.payload.nonce);
  // Now stay silent.
  t.match(await py.untilClosed(), { code: 'ping-timeout' });
  t.match(await server.ended(), { reason: 'ping-timeout', penalty: 'none' });
  t.equal(server.counts.node_message, 0, 'PING and PONG are handled by the connection');
});

t.test('a PING is answered with a PONG and a HELLO refresh with a HEY', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('tracker-ish');
  const server = await nextConnection();
  await py.send(message('PING', { nonce: 12345 }));
  t.same((await py.expect('PONG')).payload, { nonce: 12345 });
  await py.send(message('HELLO', helloPayload('tracker-ish', { height: 99, role: 'tracker' })));
  t.match((await py.expect('HEY')).payload, { nodeId: 'server', height: STATUS.height });
  const [m] = await server.messagesCount(1);
  t.equal(m!.method, 'HELLO', 'the refresh is also given to the owner');
  t.match(server.conn.remoteHello, { height: 99, role: 'tracker' });
});

t.test('backpressure: send() reports a full buffer and a peer that never reads is dropped', async (t) => {
  const { listener, nextConnection } = await startListener(t, { maxSendBufferBytes: 2_000_000 });
  const py = await RawPeer.connect(t, listener.port);
  await py.handshake('reader-on-strike');
  const server = await nextConnection();
  await server.conn.ready;
  py.socket.pause();
  const big = message('ADDR', { addresses: Array.from({ length: 1000 }, (_, i) => ({ host: `host-number-${i}.example.org`, port: 1 + i, nodeId: `node-${i}` })) });
  let sawFalse = false;
  let sent = 0;
  while (server.conn.isOpen && sent < 2000) {
    if (!server.conn.send(big)) sawFalse = true;
    sent++;
    if (sent % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  t.ok(sawFalse, 'send() returned false once the socket buffer was above its high-water mark');
  t.match(await server.ended(), { reason: 'send-buffer-full', penalty: 'none' });
  t.comment(`dropped after ${sent} messages of ${frame(big).length} bytes`);
});

t.test('drain() resolves once the buffer empties', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const out = await dialRecorded(t, { port: listener.port });
  const inbound = await nextConnection();
  await out.conn.ready;
  await inbound.conn.ready;
  const big = message('LISTOFBLOCKS', { hashes: Array.from({ length: 2000 }, (_, i) => H(i)) });
  let n = 0;
  while (out.conn.send(big)) n++;
  await out.conn.drain();
  t.ok(out.conn.sendBufferedBytes < 1_000_000, 'drained');
  await inbound.messagesCount(n + 1);
  t.pass(`${n + 1} messages delivered`);
});

t.test('listener close emits node_request_to_stop once and ends inbound connections with shutdown', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  let stops = 0;
  listener.on('node_request_to_stop', () => stops++);
  const out = await dialRecorded(t, { port: listener.port });
  const inbound = await nextConnection();
  await inbound.conn.ready;
  t.equal(listener.connections.size, 1);
  await Promise.all([listener.close(), listener.close()]);
  t.equal(stops, 1);
  t.match(await inbound.ended(), { reason: 'shutdown' });
  t.match(await out.ended(), { reason: 'remote-closed' });
  t.equal(listener.connections.size, 0);
});

t.test('send() before the handshake is a programming error', async (t) => {
  const { listener } = await startListener(t);
  const out = await dialRecorded(t, { port: listener.port });
  t.throws(() => out.conn.send(message('PING', { nonce: 1 })), { code: 'ERR_CONNECTION_NOT_OPEN' });
});

t.test('listener admission: a refused address gets no connection at all', async (t) => {
  const { listener, accepted } = await startListener(t, { accept: () => false });
  const py = await RawPeer.connect(t, listener.port);
  await py.closed;
  t.equal(accepted.length, 0);
});

t.test('dial errors are typed', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  await t.rejects(dial({ host: '127.0.0.1', port, nodeId: 'x', listenPort: 0, network: NET, status: () => STATUS }), DialError);
  await t.rejects(dial({ host: '127.0.0.1', port, nodeId: 'x', listenPort: 0, network: NET, status: () => STATUS }), { code: 'ERR_DIAL' });
});

t.test('a listener that throws is not the peer\'s fault', async (t) => {
  const { listener, nextConnection } = await startListener(t);
  const out = await dialRecorded(t, { port: listener.port });
  const inbound = await nextConnection();
  await inbound.conn.ready;
  inbound.conn.on('node_message', () => {
    throw new Error('owner bug');
  });
  await out.conn.ready;
  out.conn.send(message('GETADDR', {}));
  t.match(await inbound.ended(), { reason: 'internal-error', penalty: 'none', message: /owner bug/ });
});

t.test('a status() that throws ends the connection as internal-error, not misbehaviour', async (t) => {
  const { listener, nextConnection } = await startListener(t, {
    status: () => {
      throw new Error('chain actor unavailable');
    },
  });
  const py = await RawPeer.connect(t, listener.port);
  await py.sendId('innocent', 9000);
  await py.readId();
  await py.send(message('HELLO', helloPayload('innocent')));
  await py.closed;
  t.match(await (await nextConnection()).ended(), { reason: 'internal-error', penalty: 'none', message: /chain actor unavailable/ });
});
