import { connect } from 'node:net';
import t from 'tap';
import { blockToJson } from '../../src/core/block.js';
import { networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { PeerConnection } from '../../src/transport/connection.js';
import { message, type Message } from '../../src/transport/messages.js';
import { TrafficCounters, type MethodTraffic } from '../../src/transport/traffic.js';
import { ChainBuilder, regtest } from '../helpers/chain-builder.js';
import { request, startDashboardPeer } from './helpers.js';

/*
 * The per-method message and byte counters of /metrics, filled by the real
 * transport: a client connection keeps its own counters of what it sent and
 * received; after a handshake and three GETBLOCK/BLOCK round trips, the peer's
 * `in` figures for what the client sent, and its `out` figures for what the
 * client received, must be the client's own, message for message and byte
 * for byte.
 */

/** `cheesechain_<name>{method="M",direction="D"} <value>` of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, method: string, direction: 'in' | 'out'): number | undefined {
  const re = new RegExp(`^cheesechain_${name}\\{(?=[^}]*method="${method}")(?=[^}]*direction="${direction}")[^}]*\\} (\\d+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

function find(list: MethodTraffic[], method: string): MethodTraffic | undefined {
  return list.find((m) => m.method === method);
}

t.test('messages and bytes by method and direction in /metrics are what the other end counted', async (t) => {
  const p = await startDashboardPeer(t, { nodeId: 'metrics-peer' });
  const b = new ChainBuilder(regtest);
  const block = b.next();
  t.equal((await p.node.api.submitBlock(blockToJson(block.block))).status, 'connected');

  const before = await p.node.api.traffic();
  t.same(before, { received: [], sent: [] }, 'nothing counted before any connection');

  const mine = new TrafficCounters();
  const socket = connect({ host: '127.0.0.1', port: p.node.listenPort });
  await new Promise((r) => socket.once('connect', r));
  const conn = new PeerConnection({
    socket,
    direction: 'outbound',
    nodeId: 'metrics-client',
    listenPort: 0,
    network: hashToHex(networkId(regtest)),
    status: () => ({ height: 0, tip: hashToHex(networkId(regtest)), chainWork: 1n }),
    traffic: mine,
  });
  t.teardown(() => conn.close('local-close'));
  await conn.ready;

  const ROUND_TRIPS = 3;
  const blocks = new Promise<void>((resolve) => {
    let n = 0;
    conn.on('node_message', (_c, m: Message) => {
      if (m.method === 'BLOCK' && ++n === ROUND_TRIPS) resolve();
    });
  });
  for (let i = 0; i < ROUND_TRIPS; i++) conn.send(message('GETBLOCK', { hash: block.entry.hash }));
  await blocks;

  const client = mine.snapshot();
  const peer = await p.node.api.traffic();
  const scrape = await request(`${p.base}/metrics`);
  t.equal(scrape.status, 200);
  const text = scrape.body as string;
  t.match(text, /# TYPE cheesechain_messages_total counter/);
  t.match(text, /# TYPE cheesechain_message_bytes_total counter/);

  // What the client sent, the peer received; what the peer sent and the client awaited, the client received.
  const pairs: Array<[method: string, clientSide: MethodTraffic | undefined, peerSide: MethodTraffic | undefined, direction: 'in' | 'out']> = [
    ['HELLO', find(client.sent, 'HELLO'), find(peer.received, 'HELLO'), 'in'],
    ['GETBLOCK', find(client.sent, 'GETBLOCK'), find(peer.received, 'GETBLOCK'), 'in'],
    ['HEY', find(client.received, 'HEY'), find(peer.sent, 'HEY'), 'out'],
    ['BLOCK', find(client.received, 'BLOCK'), find(peer.sent, 'BLOCK'), 'out'],
  ];
  for (const [method, clientSide, peerSide, direction] of pairs) {
    t.ok(clientSide && clientSide.bytes > 0, `the client counted ${method}`);
    t.same(peerSide, clientSide, `${method}: the peer's ${direction === 'in' ? 'received' : 'sent'} messages and bytes are the client's`);
    t.equal(sample(text, 'messages_total', method, direction), clientSide?.messages, `cheesechain_messages_total{method="${method}",direction="${direction}"}`);
    t.equal(sample(text, 'message_bytes_total', method, direction), clientSide?.bytes, `cheesechain_message_bytes_total{method="${method}",direction="${direction}"}`);
  }
  t.equal(find(client.sent, 'GETBLOCK')?.messages, ROUND_TRIPS);
  t.equal(find(client.received, 'BLOCK')?.messages, ROUND_TRIPS);

  // The totals outlive the connection.
  const closed = await conn.close('local-close');
  t.equal(closed.reason, 'local-close');
  const after = await p.node.api.traffic();
  t.same(find(after.received, 'GETBLOCK'), find(peer.received, 'GETBLOCK'), 'kept after the connection closed');
});
