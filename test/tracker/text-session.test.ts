/**
 * One connection of the tracker's text protocol (document 001) as a pure
 * state machine over a real member table: bytes in, reply lines out, and the
 * timer each step asks the connection for.
 */
import t from 'tap';
import { ManualClock } from '../../src/core/clock.js';
import { MemberTable } from '../../src/tracker/member-table.js';
import { encodeResponse, MAX_REQUEST_LINE_BYTES, PID_PATTERN } from '../../src/tracker/protocol.js';
import { answerRequest, memberHost, plainAddress, sourceKey, TextSession, type TextStep } from '../../src/tracker/text-session.js';
import { AddressPolicy } from '../../src/transport/net-address.js';

/** A session over a fresh table, as a connection from `remote` sees it. */
function sessionFor(remote: string | undefined = '127.0.0.1', table = new MemberTable({ randomBytes: counter(), clock: new ManualClock() })): { session: TextSession; table: MemberTable } {
  return { session: new TextSession((request) => answerRequest(table, request, remote)), table };
}

function counter(): (n: number) => Uint8Array {
  let next = 1;
  return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
}

/** The bytes a step writes. */
const wire = (step: TextStep): string => step.replies.map(encodeResponse).join('');
const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

t.test('a connection opens with the greeting of document 001', async (t) => {
  const { session } = sessionFor();
  t.same(session.open(), { replies: [{ type: 'greeting' }], next: 'read' });
  t.equal(wire(session.open()), 'Connection Successful\n');
});

t.test('each complete line is answered in order; LF and CRLF end a line; an empty line is ignored', async (t) => {
  const { session, table } = sessionFor();
  const step = session.receive(bytes('JOIN_CHAIN:127.0.0.1:9001\r\nJOIN_CHAIN:127.0.0.1:9002\n\r\n\n'));
  t.equal(step.next, 'read');
  t.equal(step.replies.length, 2);
  const [a, b] = table.snapshot();
  t.equal(wire(step), `${a!.peerId}\n${b!.peerId}\n`);
  t.match(a!.peerId, PID_PATTERN);
  const peers = session.receive(bytes(`GET_PEERS:${a!.peerId}\n`));
  t.equal(wire(peers), `CPSS[{"peer_id":"${b!.peerId}","host":"127.0.0.1","port":9002}]\n`, 'GET_PEERS lists the others');
});

t.test('a line split over several chunks is answered once it is complete', async (t) => {
  const { session } = sessionFor();
  t.same(session.receive(bytes('JOIN_CH')), { replies: [], next: 'flush-when-idle' });
  t.same(session.receive(bytes('AIN:127.0.0.1:')), { replies: [], next: 'flush-when-idle' });
  const done = session.receive(bytes('9001\nGET_P'));
  t.equal(done.replies.length, 1);
  t.equal(done.next, 'flush-when-idle', 'the start of the next request stays buffered');
});

t.test('errors: unknown command, bad arguments, unknown PID — and the session goes on', async (t) => {
  const { session } = sessionFor();
  t.equal(wire(session.receive(bytes('HELLO\n'))), 'ERROR UNKNOWN_COMMAND expected JOIN_CHAIN:HOST:PORT or GET_PEERS:PID\n');
  t.equal(wire(session.receive(bytes('JOIN_CHAIN:h:0\n'))), 'ERROR MALFORMED PORT must be a decimal number from 1 to 65535\n');
  t.equal(wire(session.receive(bytes('GET_PEERS:PIDnope\n'))), 'ERROR UNKNOWN_PEER unknown peer id; send JOIN_CHAIN:HOST:PORT\n');
  t.match(wire(session.receive(bytes('JOIN_CHAIN:h:1\n'))), /^PID[0-9a-f]{32}\n$/);
});

t.test('a request without line end: answered when the connection goes idle', async (t) => {
  const { session } = sessionFor();
  t.same(session.receive(bytes('JOIN_CHAIN:127.0.0.1:9001')).next, 'flush-when-idle');
  const flushed = session.idle();
  t.equal(flushed.next, 'read');
  t.match(wire(flushed), /^PID[0-9a-f]{32}\n$/);
  t.same(session.receive(bytes('\r\n')), { replies: [], next: 'read' }, 'the line end arriving late is not a second request');
  t.same(session.idle(), { replies: [], next: 'read' }, 'an idle call with nothing buffered does nothing');
});

t.test('a request without line end that can never become valid gets its error at once when idle', async (t) => {
  const { session } = sessionFor();
  session.receive(bytes('HELLO'));
  t.same(session.idle(), { replies: [{ type: 'error', code: 'UNKNOWN_COMMAND', message: 'expected JOIN_CHAIN:HOST:PORT or GET_PEERS:PID' }], next: 'read' });
  session.receive(bytes('JOIN_CHAIN:host:99999'));
  t.match(session.idle(), { replies: [{ type: 'error', code: 'MALFORMED' }], next: 'read' });
});

t.test('a prefix of a valid request waits for more, then is dropped with MALFORMED', async (t) => {
  const { session, table } = sessionFor();
  session.receive(bytes('JOIN_CHAIN:local'));
  t.same(session.idle(), { replies: [], next: 'give-up-when-idle' });
  t.same(session.giveUp(), { replies: [{ type: 'error', code: 'MALFORMED', message: 'incomplete request, nothing more came within 5000 ms' }], next: 'read' });
  t.equal(table.size, 0);
  t.same(session.giveUp(), { replies: [], next: 'read' }, 'nothing left to give up on');
  // More bytes before the give-up complete it.
  session.receive(bytes('JOIN_CHAIN:local'));
  t.equal(session.idle().next, 'give-up-when-idle');
  const rest = session.receive(bytes('host:9001\n'));
  t.equal(rest.replies.length, 1);
  t.match(table.snapshot(), [{ host: 'localhost', port: 9001 }]);
});

t.test('a line over the limit is answered REQUEST_TOO_LONG and closes the session', async (t) => {
  const { session } = sessionFor();
  const step = session.receive(bytes('JOIN_CHAIN:h:1\n' + 'x'.repeat(MAX_REQUEST_LINE_BYTES + 1)));
  t.equal(step.next, 'close');
  t.match(step.replies, [{ type: 'joined' }, { type: 'error', code: 'REQUEST_TOO_LONG', message: `a request is at most ${MAX_REQUEST_LINE_BYTES} bytes` }], 'the complete line before it is still answered');
  t.same(session.receive(bytes('GET_PEERS:x\n')), { replies: [], next: 'close' }, 'nothing more is read');
  t.same(session.idle(), { replies: [], next: 'close' });
  t.same(session.end(), { replies: [], next: 'close' });
  const small = new TextSession(() => ({ type: 'greeting' }), 8);
  t.match(small.receive(bytes('123456789')), { replies: [{ message: 'a request is at most 8 bytes' }], next: 'close' }, 'the limit is configurable');
});

t.test('the end of the stream ends an unterminated request: it is answered, then the session closes', async (t) => {
  const { session, table } = sessionFor();
  session.receive(bytes('JOIN_CHAIN:127.0.0.1:9001'));
  const end = session.end();
  t.equal(end.next, 'close');
  t.equal(end.replies.length, 1);
  t.equal(table.size, 1);
  t.same(sessionFor().session.end(), { replies: [], next: 'close' }, 'nothing buffered: just close');
});

t.test('JOIN_CHAIN records the address the request came from unless the host names it', async (t) => {
  const table = new MemberTable({ randomBytes: counter(), clock: new ManualClock() });
  answerRequest(table, { type: 'join', host: '0.0.0.0', port: 1 }, '::ffff:10.0.0.7');
  answerRequest(table, { type: 'join', host: '::', port: 2 }, '::1');
  answerRequest(table, { type: 'join', host: '0.0.0.0', port: 3 }, undefined);
  answerRequest(table, { type: 'join', host: 'example.org', port: 4 }, '10.0.0.8');
  answerRequest(table, { type: 'join', host: '10.0.0.9', port: 5 }, '10.0.0.8');
  answerRequest(table, { type: 'join', host: '10.0.0.8', port: 6 }, '::ffff:10.0.0.8');
  answerRequest(table, { type: 'join', host: 'localhost', port: 7 }, '127.0.0.1');
  answerRequest(table, { type: 'join', host: '127.0.0.5', port: 8 }, '::1');
  answerRequest(table, { type: 'join', host: 'localhost', port: 9 }, '10.0.0.8');
  t.same(
    table.snapshot().map((m) => m.host),
    ['10.0.0.7', '::1', '0.0.0.0', '10.0.0.8', '10.0.0.8', '10.0.0.8', 'localhost', '127.0.0.5', '10.0.0.8'],
    'a name or another address is replaced by the source; the source itself and loopback from loopback are kept',
  );
  t.equal(memberHost('2001:DB8::1', '2001:db8::1'), '2001:DB8::1');
  t.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
  t.equal(plainAddress('::ffff:abcd::1'), '::ffff:abcd::1', 'a real IPv6 address starting like a mapped one is kept');
});

t.test('each source holds at most its quota of members; loopback and local ranges have none', async (t) => {
  const table = new MemberTable({ maxMembersPerSource: 3, randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)), clock: new ManualClock() });
  const join = (port: number, remote: string, policy?: AddressPolicy) => answerRequest(table, { type: 'join', host: '0.0.0.0', port }, remote, policy);
  for (let port = 1; port <= 3; port++) t.match(join(port, '10.0.0.1'), { type: 'joined' });
  t.same(join(4, '10.0.0.1'), { type: 'error', code: 'SOURCE_FULL', message: '10.0.0.1 already holds 3 members' });
  t.match(join(1, '10.0.0.1'), { type: 'joined' }, 'a rejoin at the same address is no new member');
  t.match(join(4, '10.0.0.2'), { type: 'joined' }, 'another source still joins');
  for (let port = 1; port <= 3; port++) t.match(join(port, '2001:db8:0:1::' + port), { type: 'joined' });
  t.match(join(4, '2001:db8:0:1::ff'), { code: 'SOURCE_FULL' }, 'IPv6 addresses count by their /64');
  t.equal(sourceKey('2001:db8:0:1::ff'), '2001:db8:0:1:0:0:0:0/64');
  t.equal(sourceKey('::ffff:10.0.0.1'), '10.0.0.1');
  for (let port = 1; port <= 5; port++) t.match(join(port, '127.0.0.1'), { type: 'joined' }, 'loopback has no quota');
  const lan = new AddressPolicy(['192.168.0.0/16']);
  for (let port = 1; port <= 5; port++) t.match(join(port, '192.168.1.4', lan), { type: 'joined' }, 'a configured local range has none');
  t.match(join(6, '10.0.0.2', lan), { type: 'joined' });
});

t.test('a full table answers TRACKER_FULL', async (t) => {
  const table = new MemberTable({ maxMembers: 1, randomBytes: counter(), clock: new ManualClock() });
  const { session } = sessionFor('127.0.0.1', table);
  session.receive(bytes('JOIN_CHAIN:h:1\n'));
  t.equal(wire(session.receive(bytes('JOIN_CHAIN:h:2\n'))), 'ERROR TRACKER_FULL the tracker holds 1 members\n');
});
