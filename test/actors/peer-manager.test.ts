/**
 * The peer manager alone: a stub gossip ref records what it is told, the
 * test hands the actor each message from its mailbox, a manual clock drives
 * bans; the remote peers are real connections over TCP on 127.0.0.1 made
 * with the transport's `dial` and `listen`.
 */
import t, { type Test } from 'tap';
import { ManualClock, seededRandom } from '../../src/core/clock.js';
import { EventBus, type NodeEvent } from '../../src/actors/events.js';
import type { GossipMsg } from '../../src/actors/gossip.js';
import { PeerManagerActor, type PeerManagerDeps, type PeerManagerMsg, type PeerView } from '../../src/actors/peer-manager.js';
import { Reply } from '../../src/actors/runtime/actor.js';
import type { PeerConnection } from '../../src/transport/connection.js';
import { message, type Message } from '../../src/transport/messages.js';
import { dial, listen } from '../../src/transport/tcp.js';
import { authenticatedId, IdentitySigner } from '../../src/transport/handshake-auth.js';
import { generateKeyPair } from '../../src/core/ed25519.js';
import { StubContext, StubRef } from '../helpers/actor-harness.js';
import { NET, status } from '../transport/helpers.js';

const BAN_SECONDS = 60;

async function setup(t: Test, over: Partial<PeerManagerDeps> = {}) {
  const clock = new ManualClock(1_800_000_000_000);
  const bus = new EventBus();
  const events: NodeEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const gossip = new StubRef<GossipMsg>('gossip');
  const actor = new PeerManagerActor({
    nodeId: 'local',
    network: NET,
    listenHost: '127.0.0.1',
    listenPort: 0,
    staticPeers: [],
    maxInbound: 8,
    maxOutbound: 8,
    banSeconds: BAN_SECONDS,
    handshakeTimeoutMs: 5_000,
    gossip,
    bus,
    status,
    clock,
    random: seededRandom(1),
    ...over,
  });
  const ctx = new StubContext<PeerManagerMsg>('peer-manager');
  // Connections forward peer messages to gossip from socket callbacks: a pump waiting for them looks again.
  gossip.onMessage = () => ctx.wake();
  await actor.start(ctx);
  const remotes: PeerConnection[] = [];
  t.teardown(async () => {
    await Promise.all(remotes.map((c) => c.close('shutdown', 'test over')));
    await actor.stop();
  });
  const ask = <R>(build: (reply: Reply<R>) => PeerManagerMsg): Promise<R> =>
    new Promise<R>((resolve, reject) => void actor.receive(build(new Reply(resolve, reject))));
  const port = await ask<number>((reply) => ({ type: 'pm/listen-port', reply }));
  /** Hands the actor its messages until `done()` holds. */
  const pump = (done: () => boolean): Promise<void> => ctx.pump(actor, done);
  /** A remote peer dialing in; its messages are recorded. */
  const connect = async (nodeId: string, listenPort = 0, role?: 'tracker', identity?: IdentitySigner) => {
    const conn = await dial({ host: '127.0.0.1', port, nodeId, listenPort, network: NET, status, ...(role ? { role } : {}), ...(identity ? { identity } : {}) });
    remotes.push(conn);
    const got: Message[] = [];
    const firstMessage = new Promise<Message>((resolve) =>
      conn.on('node_message', (_c, m) => {
        got.push(m);
        resolve(m);
      }),
    );
    return { conn, got, firstMessage };
  };
  const peerUps = () => gossip.of('gossip/peer-up');
  return { clock, bus, events, gossip, actor, ctx, port, ask, pump, connect, peerUps };
}

t.test('an inbound peer that completes the handshake is handed to gossip, announced, and asked for addresses', async (t) => {
  const { pump, connect, peerUps, events, ask } = await setup(t);
  const { firstMessage } = await connect('remote', 18999);
  await pump(() => peerUps().length === 1);
  t.match(peerUps()[0]!.link, { nodeId: 'remote', direction: 'inbound', host: '127.0.0.1', port: 18999 });
  t.match(events, [{ type: 'peer-connected', nodeId: 'remote', direction: 'inbound', port: 18999 }]);
  t.same(await firstMessage, message('GETADDR', {}));
  const views = await ask<PeerView[]>((reply) => ({ type: 'pm/peers', reply }));
  t.match(views, [{ nodeId: 'remote', host: '127.0.0.1', port: 18999, direction: 'inbound', height: 7, latencyMs: Number }]);
  t.ok(views[0]!.latencyMs! >= 0, "the latency is the handshake's round trip");
});

t.test("a peer's messages go to gossip; its departure is told to gossip and announced", async (t) => {
  const { pump, connect, peerUps, gossip, events } = await setup(t);
  const { conn } = await connect('remote');
  await pump(() => peerUps().length === 1);
  await conn.ready;
  conn.send(message('BROADCASTBLOCK', { hashes: ['ab'.repeat(32)] }));
  await pump(() => gossip.of('gossip/message').length > 0);
  t.match(gossip.of('gossip/message'), [{ nodeId: 'remote', message: { method: 'BROADCASTBLOCK' } }]);
  await conn.close('local-close', 'bye');
  await pump(() => gossip.of('gossip/peer-down').length === 1);
  t.same(gossip.of('gossip/peer-down'), [{ type: 'gossip/peer-down', nodeId: 'remote' }]);
  t.match(events.filter((e) => e.type === 'peer-disconnected'), [{ nodeId: 'remote', direction: 'inbound' }]);
});

t.test('after a gossip restart every connected peer is announced to gossip again, and a departed one is not', async (t) => {
  const { pump, connect, peerUps, gossip, actor } = await setup(t);
  const first = await connect('first', 18997);
  await connect('second', 18996);
  await pump(() => peerUps().length === 2);
  await first.conn.close('local-close', 'bye');
  await pump(() => gossip.of('gossip/peer-down').length === 1);
  await actor.receive({ type: 'pm/announce-peers' });
  await pump(() => peerUps().length === 3);
  t.match(peerUps()[2]!.link, { nodeId: 'second', port: 18996 }, 'the peer still connected is announced again');
  t.equal(peerUps().length, 3, 'and only it');
});

t.test('a punished peer is told why, disconnected and banned by its proven key until the ban ends on the clock; loopback is never address-banned', async (t) => {
  const { pump, connect, peerUps, gossip, events, actor, clock, ctx } = await setup(t);
  const key = new IdentitySigner(generateKeyPair());
  const id = authenticatedId(key.publicKey);
  const punished = await connect(id, 18999, undefined, key);
  await pump(() => peerUps().length === 1);
  const bad = 'ab'.repeat(32);
  await actor.receive({ type: 'pm/punish', nodeId: id, offence: { kind: 'invalid-block', hash: bad, code: 'bad-merkle-root', reason: 'merkle root mismatch' } });
  await pump(() => gossip.of('gossip/peer-down').length === 1);
  t.match(events.filter((e) => e.type === 'peer-disconnected'), [{ nodeId: id, reason: 'invalid-block' }]);
  await punished.conn.closed;
  t.match(punished.got.filter((m) => m.method === 'REJECT'), [{ payload: { message: 'BLOCK', code: 'bad-merkle-root', hash: bad } }], 'the peer is told why before the connection ends');

  const refused = await connect(id, 18998, undefined, key);
  let refusedClosed = false;
  void refused.conn.closed.then(() => ((refusedClosed = true), ctx.wake()));
  await pump(() => refusedClosed);
  t.equal(peerUps().length, 1, 'the banned key is refused at its next handshake');

  await connect('other', 18999);
  await pump(() => peerUps().length === 2);
  t.match(peerUps()[1]!.link, { nodeId: 'other' }, 'another peer on the same loopback address is accepted: loopback is exempt from address bans');

  clock.advance(BAN_SECONDS * 1000 - 1);
  const early = await connect(id, 18999, undefined, key);
  let earlyClosed = false;
  void early.conn.closed.then(() => ((earlyClosed = true), ctx.wake()));
  await pump(() => earlyClosed);
  t.equal(peerUps().length, 2, 'one ms before the ban ends: still refused');

  clock.advance(1);
  await connect(id, 18999, undefined, key);
  await pump(() => peerUps().length === 3);
  t.match(peerUps()[2]!.link, { nodeId: id }, 'the ban ended');
});

t.test('a second connection of a connected node, a connection to itself and a tracker probe are not peers', async (t) => {
  const { pump, connect, peerUps, ctx } = await setup(t);
  await connect('remote', 18999);
  await pump(() => peerUps().length === 1);
  const others = [await connect('remote', 18997), await connect('local', 18996), await connect('tracker-1', 0, 'tracker')];
  const tracker = others[2]!;
  let trackerReady = false;
  void tracker.conn.ready.then(() => ((trackerReady = true), ctx.wake()));
  let closed = 0;
  for (const r of others.slice(0, 2)) void r.conn.closed.then(() => (closed++, ctx.wake()));
  await pump(() => closed === 2 && trackerReady);
  t.equal(peerUps().length, 1, 'only the first connection is a peer');
  t.ok(tracker.conn.isOpen, 'the tracker probe is left to close by itself');
});

t.test('an address learnt is dialled on the dial tick, and the outbound peer is handed to gossip', async (t) => {
  const { pump, peerUps, actor, ask } = await setup(t);
  const remote = await listen({ host: '127.0.0.1', port: 0, nodeId: 'listener', network: NET, status, onConnection: () => undefined });
  t.teardown(() => remote.close());
  await actor.receive({ type: 'pm/learn', addresses: [{ host: '127.0.0.1', port: remote.port }], from: 'tracker' });
  await actor.receive({ type: 'pm/dial-tick' });
  await pump(() => peerUps().length === 1);
  t.match(peerUps()[0]!.link, { nodeId: 'listener', direction: 'outbound', port: remote.port });
  t.match(await ask<PeerView[]>((reply) => ({ type: 'pm/peers', reply })), [{ nodeId: 'listener', direction: 'outbound', port: remote.port }]);
});
