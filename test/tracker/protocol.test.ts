import t from 'tap';
import {
  classifyPartial,
  encodeRequest,
  encodeResponse,
  LineDecoder,
  makePeerId,
  MAX_REQUEST_LINE_BYTES,
  parseRequest,
  parseResponse,
  PID_PATTERN,
  TrackerProtocolError,
} from '../../src/tracker/protocol.js';

/* The pure text protocol of document 001: parsing, classification of unterminated requests, line framing. */

t.test('JOIN_CHAIN parses host names, IPv4 and bracketed IPv6, with or without CR', async (t) => {
  t.same(parseRequest('JOIN_CHAIN:localhost:9009'), { ok: true, request: { type: 'join', host: 'localhost', port: 9009 } });
  t.same(parseRequest('JOIN_CHAIN:10.0.0.7:1\r'), { ok: true, request: { type: 'join', host: '10.0.0.7', port: 1 } });
  t.same(parseRequest('JOIN_CHAIN:[::1]:65535'), { ok: true, request: { type: 'join', host: '::1', port: 65535 } });
  t.same(parseRequest('JOIN_CHAIN:peer-1.example.org:18330'), { ok: true, request: { type: 'join', host: 'peer-1.example.org', port: 18330 } });
});

t.test('bad JOIN_CHAIN arguments are MALFORMED', async (t) => {
  for (const line of ['JOIN_CHAIN', 'JOIN_CHAIN:', 'JOIN_CHAIN:localhost', 'JOIN_CHAIN::9009', 'JOIN_CHAIN:host:0', 'JOIN_CHAIN:host:65536', 'JOIN_CHAIN:host:12a', 'JOIN_CHAIN:ho st:1', 'JOIN_CHAIN:::1:9009', `JOIN_CHAIN:${'a'.repeat(254)}:1`, 'JOIN_CHAIN:[nope]:1']) {
    const r = parseRequest(line);
    t.equal(r.ok ? 'ok' : r.code, 'MALFORMED', line.slice(0, 40));
  }
});

t.test('GET_PEERS takes any printable PID; unknown commands and lower case are UNKNOWN_COMMAND', async (t) => {
  t.same(parseRequest('GET_PEERS:PIDabc'), { ok: true, request: { type: 'get-peers', peerId: 'PIDabc' } });
  const empty = parseRequest('GET_PEERS:');
  t.equal(empty.ok ? 'ok' : empty.code, 'MALFORMED');
  const spaced = parseRequest('GET_PEERS:PID a');
  t.equal(spaced.ok ? 'ok' : spaced.code, 'MALFORMED');
  for (const line of ['HELLO', 'join_chain:h:1', 'GET_CHAIN:PIDabc', '', ' JOIN_CHAIN:h:1']) {
    const r = parseRequest(line);
    t.equal(r.ok ? 'ok' : r.code, 'UNKNOWN_COMMAND', JSON.stringify(line));
  }
});

t.test('classifyPartial tells complete, still-growing and hopeless requests apart', async (t) => {
  const cases: Array<[string, string]> = [
    ['JOIN_CHAIN:localhost:9009', 'complete'],
    ['GET_PEERS:PID00', 'complete'],
    ['JOIN_CHAIN:localhost:9009\r', 'complete'],
    ['', 'incomplete'],
    ['J', 'incomplete'],
    ['JOIN_CHAIN', 'incomplete'],
    ['GET_PEERS', 'incomplete'],
    ['GET_PEERS:', 'incomplete'],
    ['JOIN_CHAIN:local', 'incomplete'],
    ['JOIN_CHAIN:localhost:', 'incomplete'],
    ['JOIN_CHAIN:localhost:0', 'incomplete'],
    ['JOIN_CHAIN:[::1', 'incomplete'],
    ['JOIN_CHAIN:[::1]', 'incomplete'],
    ['JOIN_CHAIN:[::1]:', 'incomplete'],
    ['HELLO', 'invalid'],
    ['JOIN_CHAIN:localhost:99999', 'invalid'],
    ['JOIN_CHAIN:local host', 'invalid'],
    ['JOIN_CHAIN:localhost:90x', 'invalid'],
    ['JOIN_CHAIN:[::1]x', 'invalid'],
    ['GET_PEERS:PID 1', 'invalid'],
    ['\u0000\u00ff', 'invalid'],
  ];
  for (const [text, want] of cases) t.equal(classifyPartial(text), want, JSON.stringify(text));
});

t.test('responses encode as one LF-terminated line and parse back', async (t) => {
  t.equal(encodeResponse({ type: 'greeting' }), 'Connection Successful\n');
  const pid = makePeerId(new Uint8Array(16).fill(0xab));
  t.match(pid, PID_PATTERN);
  t.equal(encodeResponse({ type: 'joined', peerId: pid }), `${pid}\n`);
  const peers = [
    { peerId: pid, host: '127.0.0.1', port: 9009 },
    { peerId: makePeerId(new Uint8Array(16)), host: '::1', port: 1 },
  ];
  const line = encodeResponse({ type: 'peers', peers });
  t.ok(line.startsWith('CPSS['), 'CPSS then a JSON list');
  t.same(JSON.parse(line.slice(4)), [
    { peer_id: pid, host: '127.0.0.1', port: 9009 },
    { peer_id: peers[1]!.peerId, host: '::1', port: 1 },
  ]);
  t.same(parseResponse(line), { type: 'peers', peers });
  t.same(parseResponse(encodeResponse({ type: 'error', code: 'UNKNOWN_PEER', message: 'who\nare you' })), { type: 'error', code: 'UNKNOWN_PEER', message: 'who are you' });
  t.same(parseResponse('Connection Successful\r\n'), { type: 'greeting' });
  t.same(parseResponse(`${pid}\r\n`), { type: 'joined', peerId: pid });
});

t.test('the client accepts the original document\'s CPSS form: string ports and a socket field', async (t) => {
  const r = parseResponse('CPSS[{"peer_id":"PIDbbbbb", "host":"10.0.0.1","port":"9009", "socket":" SOCKET OBJECT"}]');
  t.same(r, { type: 'peers', peers: [{ peerId: 'PIDbbbbb', host: '10.0.0.1', port: 9009 }] });
  t.throws(() => parseResponse('CPSS[{"peer_id":"PIDb","host":"h","port":"0.9.X.X"}]'), TrackerProtocolError);
  t.throws(() => parseResponse('CPSS{not json'), TrackerProtocolError);
  t.throws(() => parseResponse('Welcome!'), TrackerProtocolError);
});

t.test('requests encode with brackets around IPv6 and parse back', async (t) => {
  t.equal(encodeRequest({ type: 'join', host: '::1', port: 9 }), 'JOIN_CHAIN:[::1]:9\n');
  t.equal(encodeRequest({ type: 'get-peers', peerId: 'PIDa' }), 'GET_PEERS:PIDa\n');
  t.same(parseRequest(encodeRequest({ type: 'join', host: '::1', port: 9 }).trimEnd()), { ok: true, request: { type: 'join', host: '::1', port: 9 } });
});

t.test('LineDecoder splits lines across chunks and keeps the partial', async (t) => {
  const d = new LineDecoder(64);
  t.same(d.push(Buffer.from('GET_PEERS:PI')), { lines: [], overflow: false });
  t.equal(d.peekPartial(), 'GET_PEERS:PI');
  t.same(d.push(Buffer.from('D1\r\nJOIN_CHAIN:a:1\nGET')), { lines: ['GET_PEERS:PID1\r', 'JOIN_CHAIN:a:1'], overflow: false });
  t.equal(d.partialBytes, 3);
  t.equal(d.takePartial(), 'GET');
  t.equal(d.partialBytes, 0);
});

t.test('LineDecoder refuses a line over the limit without buffering it, and stays refused', async (t) => {
  const d = new LineDecoder(MAX_REQUEST_LINE_BYTES);
  t.same(d.push(Buffer.alloc(MAX_REQUEST_LINE_BYTES, 0x41)), { lines: [], overflow: false }, 'exactly the limit is held');
  const r = d.push(Buffer.from('A'));
  t.equal(r.overflow, true, 'one more byte overflows');
  t.equal(d.partialBytes, 0, 'nothing kept');
  t.equal(d.push(Buffer.from('JOIN_CHAIN:a:1\n')).overflow, true, 'unusable after an overflow');
  const big = new LineDecoder(8);
  t.same(big.push(Buffer.from('ok\n' + 'x'.repeat(100_000))), { lines: ['ok'], overflow: true }, 'lines before the overflow are delivered');
  const longLine = new LineDecoder(8);
  t.same(longLine.push(Buffer.from('123456789\n')), { lines: [], overflow: true }, 'a complete line over the limit overflows too');
});

t.test('makePeerId wants exactly 16 random bytes', async (t) => {
  t.throws(() => makePeerId(new Uint8Array(15)), RangeError);
  t.equal(makePeerId(new Uint8Array(16)), 'PID' + '0'.repeat(32));
});
