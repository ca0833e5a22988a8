/**
 * The `cheesechain/p2p` Node and NodeConnection: python-p2p-network 1.2's
 * programming model (seeds 002) — events, methods, counters, debug output —
 * between TypeScript nodes and against a Python node written from the wire
 * (`p2p_client.py`, standard library only).
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Node, NodeConnection, NODE_EVENTS, type NodeEventName, type NodeInit, type NodeMessage } from '../../src/p2p/index.js';
import { runPython, skipWithoutPython } from '../helpers/python.js';

const SCRIPT = fileURLToPath(new URL('../../../test/p2p/p2p_client.py', import.meta.url));

/** A started node, stopped at teardown. */
async function startNode(t: Test, init: NodeInit = {}): Promise<Node> {
  const node = new Node({ host: '127.0.0.1', port: 0, ...init });
  await node.start();
  t.teardown(() => node.stop());
  return node;
}

/** Resolves with the arguments of the next `event` of `node`. */
function next<K extends NodeEventName | 'node_message_refused'>(node: Node, event: K): Promise<unknown[]> {
  return once(node, event) as Promise<unknown[]>;
}

t.test('two nodes: connect, messages of every kind both ways, node lists, counters, disconnect, stop', async (t) => {
  const a = await startNode(t, { id: 'node-a' });
  const b = await startNode(t, { id: 'node-b' });
  const inbound = next(a, 'inbound_node_connected');
  const outbound = next(b, 'outbound_node_connected');
  t.equal(await b.connectWithNode('127.0.0.1', a.port), true);
  const [bToA] = (await outbound) as [NodeConnection];
  const [aFromB] = (await inbound) as [NodeConnection];
  t.equal(bToA.id, 'node-a');
  t.equal(bToA.port, a.port);
  t.equal(aFromB.id, 'node-b');
  t.equal(aFromB.port, b.port, 'the inbound port is the listen port of the id line');
  t.same([a.nodesInbound.length, a.nodesOutbound.length, b.nodesInbound.length, b.nodesOutbound.length], [1, 0, 0, 1]);
  t.same(b.allNodes, [bToA]);
  t.equal(await b.connectWithNode('127.0.0.1', a.port), true, 'connecting again: already connected');
  t.equal(b.nodesOutbound.length, 1);
  t.equal(await b.connectWithNode('127.0.0.1', b.port), false, 'connecting with yourself is refused');

  const messages: NodeMessage[] = [{ type: 'greeting', n: 1, nested: { list: [1, 'two', null, true] } }, 'a plain string', [1, 2, 3], 42, { 'h\u00e9llo': '\u{1f9c0}' }];
  const received: NodeMessage[] = [];
  a.on('node_message', (_n, data) => received.push(data));
  for (const m of messages) {
    const got = next(a, 'node_message');
    b.sendToNodes(m);
    t.same((await got)[1], m, `received as sent: ${JSON.stringify(m)}`);
  }
  const compressed = next(b, 'node_message');
  a.sendToNode(aFromB, { big: 'x'.repeat(10_000) }, 'zlib');
  t.same((await compressed)[1], { big: 'x'.repeat(10_000) }, 'a zlib-compressed message');
  t.throws(() => a.sendToNode(aFromB, 'x', 'bzip2'), { code: 'ERR_FRAME', reason: 'unsupported-compression' }, 'bzip2 cannot be sent (no built-in encoder)');
  t.equal(b.messageCountSend, messages.length, 'one per message and connection');
  t.equal(a.messageCountRecv, messages.length);
  t.equal(a.messageCountSend, 2, 'a send that throws is still counted as attempted, as python counts before sending');
  t.equal(b.messageCountRecv, 1);

  const c = await startNode(t, { id: 'node-c' });
  await b.connectWithNode('127.0.0.1', c.port);
  const atC = next(c, 'node_message');
  const atA = next(a, 'node_message');
  b.sendToNodes('not for a', [bToA]);
  t.same((await atC)[1], 'not for a', 'a node not excluded gets it');
  b.sendToNode(bToA, 'marker');
  t.same((await atA)[1], 'marker', 'the excluded node did not (its first message is the one sent after)');
  const cGone = next(b, 'outbound_node_disconnected');
  b.disconnectWithNode(b.nodesOutbound[1]!);
  await cGone;
  t.equal(b.sendToNode(aFromB, 'nope'), false, 'send_to_node with a connection of another node sends nothing');

  const order: string[] = [];
  b.on('node_disconnect_with_outbound_node', (n) => {
    order.push('node_disconnect_with_outbound_node');
    n.send({ bye: true });
  });
  const lastWords = next(a, 'node_message');
  const aSide = next(a, 'inbound_node_disconnected');
  const bSide = next(b, 'outbound_node_disconnected');
  b.disconnectWithNode(bToA);
  t.same((await lastWords)[1], { bye: true }, 'a last message can be sent from node_disconnect_with_outbound_node');
  t.equal((await bSide)[0], bToA);
  t.equal((await aSide)[0], aFromB);
  t.same(order, ['node_disconnect_with_outbound_node']);
  t.same([a.allNodes.length, b.allNodes.length], [0, 0], 'both lists are empty again');

  const stopping = next(a, 'node_request_to_stop');
  await a.stop();
  t.same(await stopping, [], 'node_request_to_stop carries no node');
  t.equal(await b.connectWithNode('127.0.0.1', a.port), false, 'a stopped node refuses connections');
});

t.test('the callback receives the seven events with python-p2p-network\'s arguments', async (t) => {
  const seen: { event: NodeEventName; node: string | undefined; data: NodeMessage }[] = [];
  let mains = 0;
  const callback = (event: NodeEventName, main: Node, conn: NodeConnection | undefined, data: NodeMessage): void => {
    if (main instanceof Node) mains++;
    seen.push({ event, node: conn?.id, data });
  };
  const a = await startNode(t, { id: 'cb-a', callback });
  const b = await startNode(t, { id: 'cb-b', callback });
  const inbound = next(a, 'inbound_node_connected');
  await b.connectWithNode('127.0.0.1', a.port);
  const [conn] = (await inbound) as [NodeConnection];
  const msg = next(b, 'node_message');
  a.sendToNode(conn, { hello: 'callback' });
  await msg;
  const gone = next(a, 'inbound_node_disconnected');
  b.disconnectWithNode(b.nodesOutbound[0]!);
  await gone;
  await b.stop();
  t.same(seen.map((s) => s.event).sort(), [...NODE_EVENTS].sort(), 'each of the seven events reached the callback once');
  t.equal(mains, seen.length, 'the main node is passed every time');
  t.same(seen.find((s) => s.event === 'node_message'), { event: 'node_message', node: 'cb-a', data: { hello: 'callback' } });
  t.same(seen.find((s) => s.event === 'node_request_to_stop'), { event: 'node_request_to_stop', node: undefined, data: {} });
  t.same(seen.find((s) => s.event === 'inbound_node_connected')?.data, {}, 'data is {} for connection events, as in python');
});

t.test('a subclass overrides the event methods and makes its own NodeConnection', async (t) => {
  class Counted extends NodeConnection {
    frames = 0;
    protected override parsePacket(text: string): NodeMessage {
      this.frames++;
      return text.toUpperCase();
    }
  }
  class MyNode extends Node {
    readonly log: string[] = [];
    protected override createNewConnection(...args: ConstructorParameters<typeof NodeConnection> extends [unknown, ...infer R] ? R : never): NodeConnection {
      return new Counted(this, ...args);
    }
    protected override inboundNodeConnected(node: NodeConnection): void {
      this.log.push(`in ${node.id}`);
    }
    protected override nodeMessage(node: NodeConnection, data: NodeMessage): void {
      this.log.push(`message ${String(data)}`);
      super.nodeMessage(node, data);
    }
  }
  const a = new MyNode({ id: 'sub-a' });
  await a.start();
  t.teardown(() => a.stop());
  const b = await startNode(t, { id: 'sub-b' });
  const got = next(a, 'node_message');
  let connected = false;
  a.on('inbound_node_connected', () => (connected = true));
  await b.connectWithNode('127.0.0.1', a.port);
  b.sendToNodes('shout');
  t.same((await got)[1], 'SHOUT', 'the subclass parsed the packet');
  t.same(a.log, ['in sub-b', 'message SHOUT']);
  t.equal(connected, false, 'an overridden event method replaces the default (no event emitted), as in python');
  t.equal((a.nodesInbound[0] as Counted).frames, 1);
});

t.test('debug prints what happens, in python-p2p-network\'s format', async (t) => {
  const lines: string[] = [];
  const a = await startNode(t, { id: 'dbg-a', debug: true, debugWriter: (l) => lines.push(l) });
  const b = await startNode(t, { id: 'dbg-b' });
  const silent: string[] = [];
  b.debugPrint('not printed');
  t.same(silent, []);
  const got = next(b, 'node_message');
  await a.connectWithNode('127.0.0.1', b.port);
  a.sendToNodes({ n: 1 });
  await got;
  const msg = next(a, 'node_message');
  b.sendToNodes('pong');
  await msg;
  t.ok(lines.every((l) => l.startsWith('DEBUG (dbg-a): ')), 'every line is "DEBUG (<id>): ..."');
  const text = lines.join('\n');
  t.match(text, `Initialisation of the Node on port: ${a.port} on node (dbg-a)`);
  t.match(text, `connecting to 127.0.0.1 port ${b.port}`);
  t.match(text, `NodeConnection: Started with client (dbg-b) '127.0.0.1:${b.port}'`);
  t.match(text, 'outbound_node_connected: dbg-b');
  t.match(text, 'node_message: dbg-b: pong');
  a.debug = false;
  const before = lines.length;
  a.sendToNodes('quiet');
  await a.connectWithNode('127.0.0.1', a.port);
  t.equal(lines.length, before, 'nothing is printed once debug is off');
});

t.test('maxConnections refuses inbound connections over the limit', async (t) => {
  const a = await startNode(t, { id: 'full', maxConnections: 1 });
  const b = await startNode(t, { id: 'first' });
  const c = await startNode(t, { id: 'second' });
  t.equal(await b.connectWithNode('127.0.0.1', a.port), true);
  t.equal(await c.connectWithNode('127.0.0.1', a.port), false, 'the second is closed before the id exchange');
  t.equal(a.nodesInbound.length, 1);
});

t.test('reconnect: a lost outbound node is dialled again', async (t) => {
  const a = await startNode(t, { id: 'steady' });
  const b = await startNode(t, { id: 'redialler', reconnectIntervalMs: 30 });
  t.equal(await b.connectWithNode('127.0.0.1', a.port, { reconnect: true }), true);
  t.same(b.reconnectToNodes, [{ host: '127.0.0.1', port: a.port, trials: 0 }]);
  const lost = next(b, 'outbound_node_disconnected');
  a.nodesInbound[0]!.stop();
  await lost;
  const again = next(b, 'outbound_node_connected');
  await again;
  t.equal(b.nodesOutbound.length, 1, 'connected again');
});

t.test('refused frames: an empty frame and invalid UTF-8 are counted and dropped; an oversized frame ends the connection', async (t) => {
  const a = await startNode(t, { id: 'strict', maxFrameBytes: 1024 });
  const sock = connect({ host: '127.0.0.1', port: a.port });
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  sock.write('raw-client:0');
  const [id] = (await once(sock, 'data')) as [Buffer];
  t.equal(id.toString(), 'strict', 'the bare id');
  const refused = next(a, 'node_message_refused');
  sock.write(Buffer.of(0x04));
  const [, err] = (await refused) as [NodeConnection, Error & { code: string; reason: string }];
  t.match(err, { code: 'ERR_FRAME', reason: 'empty-frame' });
  const bad = next(a, 'node_message_refused');
  sock.write(Buffer.of(0xc3, 0x28, 0x04));
  t.match((await bad)[1], { code: 'ERR_FRAME', reason: 'invalid-utf8' });
  const ok = next(a, 'node_message');
  sock.write('{"still": "open"}\x04');
  t.same((await ok)[1], { still: 'open' });
  t.equal(a.messageCountRerr, 2);
  const gone = next(a, 'inbound_node_disconnected');
  sock.write(Buffer.alloc(2000, 0x61));
  await gone;
  t.equal(a.messageCountRerr, 3, 'frame-too-large is counted too');
});

t.test('a Python node (python-p2p-network wire) dials a TypeScript node', { skip: skipWithoutPython }, async (t) => {
  const a = await startNode(t, { id: 'ts-acceptor' });
  a.on('node_message', (n, data) => n.send({ echo: data }, typeof data === 'object' && data !== null && 'type' in data && data.type === 'compressed' ? 'zlib' : 'none'));
  const py = runPython(t, SCRIPT, ['dial', '127.0.0.1', String(a.port), '--id', 'py-node', '--listen-port', '10009']);
  const [conn] = (await next(a, 'inbound_node_connected')) as [NodeConnection];
  t.same([conn.id, conn.port], ['py-node', 10009]);
  t.equal(await py.exit, 0, `python node succeeded: ${JSON.stringify(py.lines.at(-1))}`);
  t.match(py.lines[0], { event: 'id', value: 'ts-acceptor' }, 'python read the bare id with one recv(4096)');
  t.same(
    py.lines.filter((l) => l.event === 'message').map((l) => l.compressed),
    [false, false, true, false],
    'the compressed message was answered compressed',
  );
  t.equal(a.messageCountRecv, 4);
});

t.test('a TypeScript node dials a Python node (python-p2p-network wire)', { skip: skipWithoutPython }, async (t) => {
  const py = runPython(t, SCRIPT, ['listen', '--id', 'py-listener']);
  const listening = await py.next();
  const b = await startNode(t, { id: 'ts-dialer' });
  const echoes: NodeMessage[] = [];
  b.on('node_message', (_n, d) => echoes.push(d));
  t.equal(await b.connectWithNode('127.0.0.1', listening.port as number), true);
  t.equal(b.nodesOutbound[0]!.id, 'py-listener');
  const sent: NodeMessage[] = [{ chat: 'hi from TypeScript' }, 'a string', [1, { two: 2 }]];
  for (const m of sent) {
    const got = next(b, 'node_message');
    b.sendToNodes(m, [], m === 'a string' ? 'zlib' : 'none');
    t.same((await got)[1], { echo: m });
  }
  const gone = next(b, 'outbound_node_disconnected');
  b.disconnectWithNode(b.nodesOutbound[0]!);
  await gone;
  t.equal(await py.exit, 0);
  t.match(py.lines.find((l) => l.event === 'id'), { value: 'ts-dialer', port: b.port }, 'python split our id line on ":"');
  t.same(py.lines.filter((l) => l.event === 'message').map((l) => l.compressed), [false, true, false]);
});
