/**
 * Interoperability with python-p2p-network 1.2 (seeds 002): a Python 3
 * program written the way that library talks (`python_client.py`, standard
 * library only) dials a cheesechain listener, and accepts a cheesechain
 * dialer, and both exchange HELLO/HEY and messages.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { message } from '../../src/transport/messages.js';
import { NET, Recorder, dialRecorded, startListener } from './helpers.js';

// dist/test/transport/ → repository root
const SCRIPT = fileURLToPath(new URL('../../../test/transport/python_client.py', import.meta.url));

type Line = { event: string; [k: string]: unknown };

/** The tests need python3 (present on the development machine and in CI); without it they are skipped, not failed. */
const skip = spawnSync('python3', ['--version']).status === 0 ? false : 'python3 is not installed';

/** Runs the Python client; yields its JSON lines as they come and its exit code at the end. */
function runPython(t: Test, args: string[]): { next: () => Promise<Line>; exit: Promise<number>; lines: Line[] } {
  const child: ChildProcessWithoutNullStreams = spawn('python3', [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: Line[] = [];
  const queue: Line[] = [];
  const waiters: ((l: Line) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const exit = new Promise<number>((resolve) =>
    child.on('close', (code) => {
      if (stderr) t.comment(`python stderr: ${stderr}`);
      resolve(code ?? -1);
    }),
  );
  return { next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))), exit, lines };
}

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
