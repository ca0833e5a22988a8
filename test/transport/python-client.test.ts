/**
 * Interoperability with python-p2p-network 1.2 (seeds 002): a Python 3
 * program written the way that library talks (`python_client.py`, standard
 * library only) dials a cheesechain listener, and accepts a cheesechain
 * dialer, and both exchange HELLO/HEY and messages.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { message } from '../../src/transport/messages.js';
import { runPython as run, skipWithoutPython as skip } from '../helpers/python.js';
import { NET, Recorder, dialRecorded, startListener } from './helpers.js';

// dist/test/transport/ → repository root
const SCRIPT = fileURLToPath(new URL('../../../test/transport/python_client.py', import.meta.url));

const runPython = (t: Parameters<typeof run>[0], args: string[]): ReturnType<typeof run> => run(t, SCRIPT, args);

t.test('a python-p2p-network client dials a cheesechain listener', { skip }, async (t) => {
  const { listener, nextConnection } = await startListener(t, { nodeId: 'cheese-srv' });
  const py = runPython(t, ['dial', '127.0.0.1', String(listener.port), '--network', NET]);
  const server = await nextConnection();
  server.conn.on('node_message', (c, m) => {
    if (m.method === 'GETADDR') c.send(message('ADDR', { addresses: [{ host: '127.0.0.1', port: 18444, nodeId: 'someone' }] }));
  });
  const hello = await server.conn.ready;
  t.equal(hello.nodeId.length, 128, 'python-p2p-network ids (SHA-512 hex) are accepted');
  t.equal(hello.port, 10001);
  t.match(hello.agent, /python-p2p-network/);
  t.equal(await py.exit, 0, `python client succeeded: ${JSON.stringify(py.lines.at(-1))}`);
  t.match(py.lines[0], { event: 'id', value: 'cheese-srv' }, 'python read the bare id with one recv(4096)');
  t.ok(py.lines.some((l) => l.event === 'message' && l.method === 'PONG'), 'a zlib-compressed PING was answered');
  t.ok(py.lines.some((l) => l.event === 'message' && l.method === 'ADDR'), 'GETADDR was answered by the owner with ADDR');
  const info = await server.ended();
  t.match(info, { reason: 'remote-closed', handshakeCompleted: true });
  t.same(
    [server.counts.inbound_node_connected, server.counts.inbound_node_disconnected, server.counts.node_message],
    [1, 1, 1],
    'connected, one message (GETADDR), disconnected: each exactly once',
  );
});

t.test('a cheesechain dialer connects to a python-p2p-network acceptor', { skip }, async (t) => {
  const py = runPython(t, ['listen', '--network', NET]);
  const listening = await py.next();
  t.equal(listening.event, 'listening');
  const out: Recorder = await dialRecorded(t, { port: listening.port as number, nodeId: 'cheese-dialer', listenPort: 18444 });
  const hello = await out.conn.ready;
  t.equal(hello.nodeId, listening.id);
  out.conn.send(message('GETADDR', {}));
  const [addr] = await out.messagesCount(1);
  t.same(addr, message('ADDR', { addresses: [{ host: '127.0.0.1', port: 9999 }] }), 'a zlib-compressed ADDR from Python was decoded');
  t.match(await out.ended(), { reason: 'remote-closed', handshakeCompleted: true });
  t.equal(await py.exit, 0, `python acceptor succeeded: ${JSON.stringify(py.lines.at(-1))}`);
  t.match(
    py.lines.find((l) => l.event === 'id'),
    { value: 'cheese-dialer', port: 18444 },
    'python split our id line on ":" into exactly two parts',
  );
  t.same([out.counts.outbound_node_connected, out.counts.outbound_node_disconnected, out.counts.node_disconnect_with_outbound_node], [1, 1, 0]);
});
