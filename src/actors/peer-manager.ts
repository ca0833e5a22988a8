import type { Socket } from 'node:net';
import { assertNever } from '../core/reject.js';
import type { EventBus } from './events.js';
import { BAN_SCORE, MISBEHAVIOUR_POINTS, PeerConnection, misbehaviourPoints, type ChainStatus, type DisconnectInfo, type DisconnectReason } from '../transport/connection.js';
import { encodeMessage } from '../transport/messages.js';
import { isAuthenticatedId, type IdentitySigner } from '../transport/handshake-auth.js';
import { CONNECT_TIMEOUT_MS, MAX_ADDR_ADDRESSES, MAX_REJECT_REASON_LENGTH } from '../transport/limits.js';
import { message, type AddrEntry, type HelloPayload, type Message } from '../transport/messages.js';
import { AddressPolicy, addressGroup, isLoopback, normalizeIp } from '../transport/net-address.js';
import { AddressBook, addressKey, bookGroup, type AddressRecord } from './address-book.js';
import { selectEvictionVictim, type EvictionCandidate } from './eviction.js';
import { MisbehaviourBook, TokenBucket } from './misbehaviour.js';
import { sniffProtocol } from '../transport/seed001.js';
import { TrafficCounters, type TrafficSnapshot } from '../transport/traffic.js';
import { connectSocket, listenSockets, type SocketListener } from '../transport/tcp.js';
import type { GossipMsg, Offence, PeerLink } from './gossip.js';
import type { Actor, ActorContext, ActorRef, Reply } from './runtime/actor.js';
import { cryptoRandom, systemClock, type Clock, type RandomSource } from '../core/clock.js';

/** How often the peer manager dials towards its outbound target, ms. */
export const DIAL_INTERVAL_MS = 1_000;
/** How often a sample of the address book is relayed to every peer with ADDR (document 004: "on a timely basis"), ms. */
export const ADDR_RELAY_INTERVAL_MS = 30_000;
/** Addresses relayed per ADDR round. */
export const ADDR_RELAY_SAMPLE = 100;
/** Addresses from the address book dialled per dial round beyond the static peers, so a burst of ADDR is not dialled at once. */
export const MAX_NEW_DIALS_PER_ROUND = 2;
/** ADDR processing rate per connection, addresses per second (Bitcoin Core `MAX_ADDR_RATE_PER_SECOND`). */
export const ADDR_RATE_PER_SECOND = 0.1;
/** ADDR token bucket size per connection, addresses (Bitcoin Core `MAX_ADDR_PROCESSING_TOKEN_BUCKET`). */
export const ADDR_BURST = 1_000;
/** GETBLOCK requests a peer may make per second, and in a burst (a syncing peer asks for at most 16 at a time). */
export const GETBLOCK_RATE_PER_SECOND = 100;
export const GETBLOCK_BURST = 1_000;
/**
 * Blocks a peer may request with GETBLOCKS per second, and in a burst: fast
 * sync asks for up to `MAX_GETBLOCKS_HASHES` at a time from each peer and a
 * joiner may sync thousands of blocks per second (the send buffer's limit
 * still bounds what a peer that does not read can make this node hold).
 */
export const GETBLOCKS_RATE_PER_SECOND = 2_000;
export const GETBLOCKS_BURST = 10_000;
/** Transaction ids a peer may request with GETTRANSACTIONS per second, and in a burst. */
export const GETTRANSACTIONS_RATE_PER_SECOND = 5_000;
export const GETTRANSACTIONS_BURST = 50_000;
/**
 * Inbound sockets allowed beyond `maxInbound` while their handshake runs.
 * A connection's role is known only from its HELLO: the headroom lets the
 * tracker's liveness probe (and a newcomer that may evict someone) complete
 * its handshake when every peer slot is taken.
 */
export const INBOUND_HANDSHAKE_HEADROOM = 8;

/** One connected peer as the peer manager reports it (HTTP API, NATS `req.peers`). */
export interface PeerView {
  nodeId: string;
  host: string;
  port: number;
  direction: 'inbound' | 'outbound';
  /** The peer's height as its last HELLO or HEY said (the handshake's, then each status refresh's). */
  height: number;
  /** The ed25519 key the peer proved in the handshake (hex), absent for an unauthenticated peer. */
  identity?: string;
  /** Round-trip time of the last HELLO/HEY exchange or answered PING, ms; null when none was answered. */
  latencyMs: number | null;
}

/** Events the peer manager publishes on the node's bus. */
export type PeerEvent =
  | { type: 'peer-connected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound' }
  | { type: 'peer-disconnected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound'; reason: string }
  | { type: 'peer-banned'; nodeId: string; host: string; reason: string; untilMs: number; /** What is banned: `key:<hex>`, `ip:<address>`, `net:<subnet>`. */ subjects?: string[] };

/** Messages of the peer manager. */
export type PeerManagerMsg =
  | { type: 'pm/accept'; socket: Socket }
  | { type: 'pm/inbound'; socket: Socket; initialBytes?: Buffer }
  | { type: 'pm/handshake-done'; conn: PeerConnection }
  | { type: 'pm/disconnected'; conn: PeerConnection; info: DisconnectInfo }
  | { type: 'pm/early-message'; conn: PeerConnection; message: Message }
  | { type: 'pm/misbehaving'; conn: PeerConnection; reason: DisconnectReason; message: string; points: number }
  | { type: 'pm/dialed'; key: string; socket: Socket }
  | { type: 'pm/dial-failed'; key: string }
  | { type: 'pm/punish'; nodeId: string; offence: Offence }
  | { type: 'pm/learn'; addresses: AddrEntry[]; from: string; static?: boolean }
  | { type: 'pm/dial-tick' }
  | { type: 'pm/addr-tick' }
  | { type: 'pm/peers'; reply: Reply<PeerView[]> }
  /**
   * Tells the gossip actor `gossip/peer-up` again for every connected peer: a
   * restarted gossip actor starts with no peers and would otherwise ignore
   * every message of the connections that outlived it.
   */
  | { type: 'pm/announce-peers' }
  | { type: 'pm/listen-port'; reply: Reply<number> }
  /** Dial these addresses now, ignoring their backoff (document 003's "connect peers"); replies how many dials started. */
  | { type: 'pm/dial-now'; addresses: AddrEntry[]; static?: boolean; reply: Reply<number> }
  /** Close the connection to a peer; replies false when it is not connected. */
  | { type: 'pm/disconnect'; nodeId: string; reply: Reply<boolean> }
  /** An operator's ban: a node id or a host (every port), for `seconds`; closes matching connections. */
  | { type: 'pm/ban'; target: { nodeId: string } | { host: string }; seconds: number; reply: Reply<void> }
  /** Lifts a ban; replies false when there was none. */
  | { type: 'pm/unban'; target: { nodeId: string } | { host: string }; reply: Reply<boolean> }
  | { type: 'pm/bans'; reply: Reply<Array<{ key: string; until: number }>> }
  /** Messages and bytes by method and direction over every connection since start. */
  | { type: 'pm/traffic'; reply: Reply<TrafficSnapshot> };

export interface PeerManagerDeps {
  nodeId: string;
  /** Network id, display hex. */
  network: string;
  listenHost: string;
  /** 0 picks a free port. */
  listenPort: number;
  /** `host:port` of static peers. */
  staticPeers: Array<{ host: string; port: number }>;
  maxInbound: number;
  maxOutbound: number;
  /** Most inbound connections from one IP address (loopback and `localRanges` exempt). @default 4 */
  maxInboundPerAddress?: number;
  /** CIDR ranges exempt from address bans and the per-address limit, like loopback. @default [] */
  localRanges?: readonly string[];
  banSeconds: number;
  handshakeTimeoutMs: number;
  gossip: ActorRef<GossipMsg>;
  bus: EventBus;
  /** The tip, read whenever HELLO or HEY is sent. */
  status: () => ChainStatus;
  /** The node's identity key: handshakes are signed with it. Without it the node is an unauthenticated peer. */
  identity?: IdentitySigner;
  /** @default systemClock */
  clock?: Clock;
  /** Address-book salt and selection, shuffles of relayed addresses. @default cryptoRandom */
  random?: RandomSource;
  /** Liveness ping interval, ms (transport default when absent). */
  pingIntervalMs?: number;
  /**
   * Serves document 001's peer commands on the listening port: sockets whose
   * first bytes are not a python-p2p-network id line (or that stay silent) are
   * handed here with the bytes read. Absent: every socket is a peer connection.
   */
  seed001?: (socket: Socket, initialBytes: Buffer) => void;
}

/** What the peer manager tracks of each connection besides the transport's state. */
interface ConnState {
  connectedAt: number;
  lastBlockAt: number;
  lastTxAt: number;
  addrTokens: TokenBucket;
  getBlockTokens: TokenBucket;
  getBlocksTokens: TokenBucket;
  getTxTokens: TokenBucket;
  answeredGetAddr: boolean;
  /** Addresses from ADDR dropped by the rate limit (counted, never silent). */
  addrDropped: number;
}

/**
 * The peer manager: owns the listener, dials peers from the address book
 * (fed by the config, the tracker and ADDR) up to the outbound limit with
 * exponential backoff, and guards the node against hostile peers:
 *
 * - **bans that hold**: faults add decaying misbehaviour points to the
 *   remote's proven identity key and to its address (`MisbehaviourBook`,
 *   `AddressPolicy`: loopback and `localRanges` exempt), never to a node id
 *   it merely claims; a banned address is refused before the id exchange
 *   with `REJECT banned`, a banned key right after its HELLO;
 * - **limits that count everything**: every inbound socket counts from its
 *   accept (tracker probes included, which are answered and closed), at most
 *   `maxInboundPerAddress` per address, and a full node evicts the least
 *   valuable inbound peer (`selectEvictionVictim`) instead of refusing a
 *   newcomer outright;
 * - **bounded state**: the address book is bucketed by source
 *   (`AddressBook`), ADDR passes a token bucket, GETADDR is answered once per
 *   connection, GETBLOCK (and GETBLOCKTXN), GETBLOCKS and GETTRANSACTIONS
 *   have per-peer budgets.
 *
 * At most one connection per node id; an authenticated id (`ed25519_…`) can
 * only be held by its key holder (the handshake proves it).
 */
export class PeerManagerActor implements Actor<PeerManagerMsg> {
  private server: SocketListener | undefined;
  private port = 0;
  private readonly book: AddressBook;
  private readonly pending = new Set<PeerConnection>();
  /** Every connection's messages and bytes by method, kept after the connections close. */
  private readonly traffic = new TrafficCounters();
  /** Accepted inbound sockets by remote address, from accept to close, whatever protocol they speak. */
  private readonly acceptedByAddress = new Map<string, Set<Socket>>();
  private readonly open = new Map<string, PeerConnection>();
  /** The gossip link of each open connection, kept to announce them again to a restarted gossip actor. */
  private readonly links = new Map<string, PeerLink>();
  /** Tracker liveness probes: answered, counted until they close. */
  private readonly probes = new Set<PeerConnection>();
  private readonly state = new Map<PeerConnection, ConnState>();
  /** Address-book key of each outbound connection. */
  private readonly dialKey = new Map<PeerConnection, string>();
  private readonly dialing = new Set<string>();
  private readonly scores: MisbehaviourBook;
  /** Connections closed by `pm/punish`, whose points were counted then (their close does not count them again). */
  private readonly scoredAtPunish = new WeakSet<PeerConnection>();
  private readonly policy: AddressPolicy;
  private self!: ActorRef<PeerManagerMsg>;
  private ctx!: ActorContext<PeerManagerMsg>;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private stopping = false;

  /** @throws RangeError when a `localRanges` entry is not a CIDR range. */
  constructor(private readonly deps: PeerManagerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
    this.book = new AddressBook({ salt: this.random.bytes(32), random: this.random });
    this.scores = new MisbehaviourBook({ banScore: BAN_SCORE, banMs: deps.banSeconds * 1000 });
    this.policy = new AddressPolicy(deps.localRanges ?? []);
  }

  async start(ctx: ActorContext<PeerManagerMsg>): Promise<void> {
    this.self = ctx.self;
    this.ctx = ctx;
    for (const p of this.deps.staticPeers) this.book.addStatic(p);
    this.server = await listenSockets({
      host: this.deps.listenHost,
      port: this.deps.listenPort,
      onSocket: (socket) => {
        if (!this.self.offer({ type: 'pm/accept', socket })) socket.destroy();
      },
    });
    this.port = this.server.port;
    ctx.every(DIAL_INTERVAL_MS, { type: 'pm/dial-tick' });
    ctx.every(ADDR_RELAY_INTERVAL_MS, { type: 'pm/addr-tick' });
    this.self.offer({ type: 'pm/dial-tick' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.pending, ...this.open.values(), ...this.probes];
    await Promise.all(all.map((c) => c.close('shutdown', 'node is stopping')));
    await this.server?.close();
  }

  receive(msg: PeerManagerMsg): void {
    switch (msg.type) {
      case 'pm/accept':
        this.onAccept(msg.socket);
        return;
      case 'pm/inbound':
        this.onInbound(msg.socket, msg.initialBytes);
        return;
      case 'pm/handshake-done':
        this.onHandshake(msg.conn);
        return;
      case 'pm/disconnected':
        this.onDisconnected(msg.conn, msg.info);
        return;
      case 'pm/early-message': {
        const id = msg.conn.remoteNodeId;
        if (id && this.open.get(id) === msg.conn) this.onMessage(msg.conn, msg.message);
        return;
      }
      case 'pm/misbehaving':
        this.penalize(msg.conn, msg.points, `${msg.reason}: ${msg.message}`);
        return;
      case 'pm/dialed':
        this.onDialed(msg.key, msg.socket);
        return;
      case 'pm/dial-failed':
        this.dialing.delete(msg.key);
        this.book.markFailed(msg.key, this.clock.nowMs());
        return;
      case 'pm/punish': {
        // Gossip punishes only consensus-invalid blocks and transactions: the close reason is fatal (misbehaviourPoints).
        const conn = this.open.get(msg.nodeId);
        if (!conn) return;
        const o = msg.offence;
        const item = o.kind === 'invalid-block' ? { method: 'BLOCK' as const, hash: o.hash } : { method: 'PUSHTRANSACTION' as const, hash: o.txid };
        const why = `${o.kind === 'invalid-block' ? 'block' : 'transaction'} ${item.hash}: ${o.reason}`;
        // Scored before the close, not when it completes: a peer that reconnects the moment its socket closes is already banned.
        this.scoredAtPunish.add(conn);
        const r = this.scores.add(this.subjects(conn), misbehaviourPoints(o.kind), this.clock.nowMs());
        if (r.banned.length > 0) this.publishBan(conn, r.banned, `${o.kind}: ${why}`);
        void conn.reject(o.kind, why, { ...item, code: o.code });
        return;
      }
      case 'pm/learn':
        this.learn(msg.addresses, msg.from, msg.static ?? false);
        return;
      case 'pm/dial-tick':
        this.dialMore();
        return;
      case 'pm/addr-tick':
        this.relayAddresses();
        return;
      case 'pm/peers':
        msg.reply.resolve(this.peerViews());
        return;
      case 'pm/announce-peers':
        for (const link of this.links.values()) this.deps.gossip.tell({ type: 'gossip/peer-up', link });
        return;
      case 'pm/listen-port':
        msg.reply.resolve(this.port);
        return;
      case 'pm/dial-now':
        msg.reply.resolve(this.dialNow(msg.addresses, msg.static ?? false));
        return;
      case 'pm/disconnect': {
        const conn = this.open.get(msg.nodeId);
        if (conn) void conn.close('local-close', 'disconnected by the operator');
        msg.reply.resolve(conn !== undefined);
        return;
      }
      case 'pm/ban':
        this.operatorBan(msg.target, msg.seconds);
        msg.reply.resolve();
        return;
      case 'pm/unban':
        msg.reply.resolve(this.scores.unban('nodeId' in msg.target ? `id:${msg.target.nodeId}` : `host:${msg.target.host}`));
        return;
      case 'pm/bans':
        msg.reply.resolve(this.scores.bansInForce(this.clock.nowMs()).map((b) => ({ key: b.subject, until: b.untilMs })));
        return;
      case 'pm/traffic':
        msg.reply.resolve(this.traffic.snapshot());
        return;
      default:
        assertNever(msg);
    }
  }

  /** Addresses to answer GETADDR with: connected peers' listen addresses first, then a random sample of the book. */
  addresses(): AddrEntry[] {
    const out = new Map<string, AddrEntry>();
    for (const c of this.open.values()) {
      const h = c.remoteHello!;
      if (h.port > 0) out.set(`${c.remoteAddress}:${h.port}`, { host: c.remoteAddress, port: h.port, nodeId: h.nodeId });
    }
    for (const r of this.book.sample(MAX_ADDR_ADDRESSES)) {
      const k = addressKey(r);
      if (out.size >= MAX_ADDR_ADDRESSES) break;
      if (!out.has(k)) out.set(k, { host: r.host, port: r.port, ...(r.nodeId ? { nodeId: r.nodeId } : {}) });
    }
    return [...out.values()];
  }

  private peerViews(): PeerView[] {
    return [...this.open.values()].map((c) => ({
      nodeId: c.remoteNodeId!,
      host: c.remoteAddress,
      port: c.remoteHello!.port,
      direction: c.direction,
      height: c.remoteHello!.height,
      ...(c.remoteIdentity ? { identity: c.remoteIdentity } : {}),
      latencyMs: c.latencyMs ?? null,
    }));
  }

  // -------------------------------------------------------------------------
  // Addresses

  private learn(addresses: readonly AddrEntry[], from: string, isStatic: boolean): void {
    const group = from === 'tracker' || from === 'local' ? from : `peer:${from}`;
    for (const a of addresses.slice(0, MAX_ADDR_ADDRESSES)) {
      if (a.nodeId === this.deps.nodeId) continue;
      if (a.port === this.port && isLoopback(a.host)) continue;
      if (isStatic) this.book.addStatic(a);
      else this.book.add(a, group);

    }
    if (isStatic) this.dialMore();
  }

  private dialNow(addresses: AddrEntry[], isStatic: boolean): number {
    this.learn(addresses, 'local', isStatic);
    for (const a of addresses.slice(0, MAX_ADDR_ADDRESSES)) {
      const rec = this.book.get(`${a.host}:${a.port}`);
      if (rec) rec.nextAttemptAt = 0;
    }
    const before = this.dialing.size;
    this.dialMore();
    return this.dialing.size - before;
  }

  /** An operator's ban: `id:<nodeId>` (refused at the handshake) or the host's address subjects. */
  private operatorBan(target: { nodeId: string } | { host: string }, seconds: number): void {
    const until = this.clock.nowMs() + seconds * 1000;
    const subject = 'nodeId' in target ? `id:${target.nodeId}` : `host:${target.host}`;
    this.scores.ban(subject, until);
    for (const c of [...this.open.values()]) {
      if ('nodeId' in target ? c.remoteNodeId === target.nodeId : c.remoteAddress === target.host) void c.close('banned', 'banned by the operator');
    }
  }


  /** ADDR from a peer: through its token bucket; the excess is dropped (counted), not punished (Bitcoin Core does the same). */
  private onAddr(conn: PeerConnection, st: ConnState, addresses: readonly AddrEntry[]): void {
    const granted = st.addrTokens.take(addresses.length, this.clock.nowMs());
    st.addrDropped += addresses.length - granted;
    if (granted === 0) return;
    const source = bookGroup(conn.remoteAddress, conn.remoteHello?.port ?? conn.remotePort);
    for (const a of addresses.slice(0, granted)) {
      if (a.nodeId === this.deps.nodeId || (a.port === this.port && isLoopback(a.host))) continue;
      this.book.add(a, source);
    }
  }

  private relayAddresses(): void {
    const all = this.addresses();
    for (const c of this.open.values()) {
      const sample = shuffle(
        all.filter((a) => a.nodeId !== c.remoteNodeId),
        this.random,
      ).slice(0, ADDR_RELAY_SAMPLE);
      if (sample.length > 0 && c.isOpen) c.send(message('ADDR', { addresses: sample }));
    }
  }

  // -------------------------------------------------------------------------
  // Misbehaviour and bans

  /** Ban subjects of a connection: its proven key, and its address unless exempt. Never a claimed id. */
  private subjects(conn: PeerConnection, proven = conn.remoteIdentity): string[] {
    const s = this.policy.banSubjects(conn.remoteAddress);
    return proven ? [`key:${proven}`, ...s] : s;
  }

  /** Adds misbehaviour points to the connection's subjects; closes it with `banned` when they reach the ban score. */
  private penalize(conn: PeerConnection, points: number, why: string): void {
    const r = this.scores.add(this.subjects(conn), points, this.clock.nowMs());
    if (r.banned.length === 0) return;
    this.publishBan(conn, r.banned, why);
    void conn.close('banned', `banned: ${why}`.slice(0, MAX_REJECT_REASON_LENGTH));
  }

  private publishBan(conn: PeerConnection, subjects: string[], why: string): void {
    this.deps.bus.publish({ type: 'peer-banned', nodeId: conn.remoteNodeId ?? '', host: conn.remoteAddress, reason: why, untilMs: this.clock.nowMs() + this.deps.banSeconds * 1000, subjects });
  }

  /** Whether a HELLO's sender may proceed: refused when its claimed key is banned (before we answer it). */
  private admit(conn: PeerConnection, remote: { nodeId: string; hello: HelloPayload; publicKey: string | undefined }): { reason: DisconnectReason; message: string } | undefined {
    if (remote.publicKey) {
      const ban = this.scores.banned([`key:${remote.publicKey}`], this.clock.nowMs());
      if (ban) return { reason: 'banned', message: `key ${remote.publicKey} is banned for ${Math.ceil((ban.untilMs - this.clock.nowMs()) / 1000)} s` };
    }
    if (remote.hello.role !== 'tracker') {
      const other = this.open.get(remote.nodeId);
      if (other && other !== conn && other.isOpen) return { reason: 'duplicate-connection', message: `already connected to ${remote.nodeId}` };
    }
    return undefined;
  }

  // -------------------------------------------------------------------------
  // Connections

  private outboundCount(): number {
    let n = 0;
    for (const c of [...this.pending, ...this.open.values()]) if (c.direction === 'outbound') n++;
    return n + this.dialing.size;
  }

  /** Inbound sockets of every kind: handshaking, open, and tracker probes. */
  private inboundConnections(): PeerConnection[] {
    const all: PeerConnection[] = [];
    for (const c of this.pending) if (c.direction === 'inbound') all.push(c);
    for (const c of this.open.values()) if (c.direction === 'inbound') all.push(c);
    for (const c of this.probes) all.push(c);
    return all;
  }

  private connectionInit(socket: Socket, direction: 'inbound' | 'outbound') {
    const init = {
      socket,
      direction,
      nodeId: this.deps.nodeId,
      listenPort: this.port,
      network: this.deps.network,
      status: this.deps.status,
      handshakeTimeoutMs: this.deps.handshakeTimeoutMs,
      ...(this.deps.pingIntervalMs ? { pingIntervalMs: this.deps.pingIntervalMs } : {}),
      ...(this.deps.identity ? { identity: this.deps.identity } : {}),
      traffic: this.traffic,
    };
    return init;
  }

  private watch(conn: PeerConnection): void {
    this.pending.add(conn);
    const now = this.clock.nowMs();
    this.state.set(conn, {
      connectedAt: now,
      lastBlockAt: 0,
      lastTxAt: 0,
      addrTokens: new TokenBucket(ADDR_RATE_PER_SECOND, ADDR_BURST, now),
      getBlockTokens: new TokenBucket(GETBLOCK_RATE_PER_SECOND, GETBLOCK_BURST, now),
      getBlocksTokens: new TokenBucket(GETBLOCKS_RATE_PER_SECOND, GETBLOCKS_BURST, now),
      getTxTokens: new TokenBucket(GETTRANSACTIONS_RATE_PER_SECOND, GETTRANSACTIONS_BURST, now),
      answeredGetAddr: false,
      addrDropped: 0,
    });
    // A connection the actor never hears of would be neither counted nor closed: a full mailbox is a crash, not a drop.
    const up = (c: PeerConnection) => this.ctx.deliver({ type: 'pm/handshake-done', conn: c });
    const down = (c: PeerConnection, info: DisconnectInfo) => {
      if (!this.self.offer({ type: 'pm/disconnected', conn: c, info })) this.forget(c, info);
    };
    conn.on('inbound_node_connected', up);
    conn.on('outbound_node_connected', up);
    conn.on('inbound_node_disconnected', down);
    conn.on('outbound_node_disconnected', down);
    conn.on('misbehaving', (c, f) => {
      // A score that cannot be recorded must not be forgotten: the offender is dropped instead.
      if (!this.self.offer({ type: 'pm/misbehaving', conn: c, reason: f.reason, message: f.message, points: f.points })) void c.close('stalled', 'peer manager mailbox is full');
    });
    conn.on('node_message', (c, m) => {
      const id = c.remoteNodeId;
      // Until this actor has registered the connection, its messages queue behind the handshake here, in order.
      if (id && this.open.get(id) === c) this.onMessage(c, m);
      else if (!this.self.offer({ type: 'pm/early-message', conn: c, message: m })) void c.close('stalled', 'peer manager mailbox is full');
    });
  }

  /**
   * A message of an open connection: address messages and request budgets
   * are the peer manager's; everything else goes to gossip.
   */
  private onMessage(conn: PeerConnection, m: Message): void {
    const st = this.state.get(conn);
    if (!st) return;
    const now = this.clock.nowMs();
    switch (m.method) {
      case 'GETADDR':
        // Answered once per connection (Bitcoin Core): repeated requests would let a peer map the whole book.
        if (st.answeredGetAddr) return;
        st.answeredGetAddr = true;
        conn.send(message('ADDR', { addresses: this.addresses().filter((a) => a.nodeId !== conn.remoteNodeId) }));
        return;
      case 'ADDR':
        this.onAddr(conn, st, m.payload.addresses);
        return;
      case 'GETBLOCK':
        if (st.getBlockTokens.take(1, now) < 1) return this.overBudget(conn, 'GETBLOCK', m.payload.hash);
        break;
      case 'GETBLOCKTXN':
        // Answered from one block, as a GETBLOCK is.
        if (st.getBlockTokens.take(1, now) < 1) return this.overBudget(conn, 'GETBLOCKTXN', m.payload.hash);
        break;
      case 'GETBLOCKS':
        if (st.getBlocksTokens.take(m.payload.hashes.length, now) < m.payload.hashes.length) return this.overBudget(conn, 'GETBLOCKS', m.payload.hashes[0]);
        break;
      case 'GETTRANSACTIONS':
        if (st.getTxTokens.take(m.payload.txids.length, now) < m.payload.txids.length) return this.overBudget(conn, 'GETTRANSACTIONS');
        break;
      case 'BLOCK':
      case 'BLOCKS':
      case 'BLOCKTXN':
        st.lastBlockAt = now;
        break;
      case 'PUSHTRANSACTION':
        st.lastTxAt = now;
        break;
      default:
        break;
    }
    if (!this.deps.gossip.offer({ type: 'gossip/message', nodeId: conn.remoteNodeId!, message: m })) {
      void conn.close('stalled', 'this node cannot keep up with the messages of this peer');
    }
  }

  /** A request beyond the peer's budget: refused with REJECT `rate-limited` and a small penalty. */
  private overBudget(conn: PeerConnection, method: 'GETBLOCK' | 'GETBLOCKS' | 'GETBLOCKTXN' | 'GETTRANSACTIONS', hash?: string): void {
    conn.send(message('REJECT', { message: method, code: 'rate-limited', reason: `${method} budget exceeded`, ...(hash ? { hash } : {}) }));
    this.penalize(conn, MISBEHAVIOUR_POINTS.high, `${method} beyond its budget`);
  }

  /** Refuses a socket before the id exchange: a REJECT frame (a python-p2p-network dialer reads it as the id and fails, which is the point), then close. */
  private refuseSocket(socket: Socket, code: 'banned' | 'connection-limit', reason: string): void {
    socket.on('error', () => undefined);
    socket.end(encodeMessage(message('REJECT', { message: '', code, reason: reason.slice(0, MAX_REJECT_REASON_LENGTH) })));
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  /**
   * Every accepted socket passes here first, whatever protocol it turns out
   * to speak: a banned address is refused, and one address holds at most
   * `maxInboundPerAddress` sockets counting those still being sniffed and
   * document-001 sessions, so silence (which selects document 001) cannot
   * be used to get around the inbound limits.
   */
  private onAccept(socket: Socket): void {
    const address = normalizeIp(socket.remoteAddress ?? '');
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const ban = this.scores.banned(this.policy.banSubjects(address), this.clock.nowMs());
    if (ban) return this.refuseSocket(socket, 'banned', `${address} is banned for ${Math.ceil((ban.untilMs - this.clock.nowMs()) / 1000)} s`);
    if (!this.policy.isExempt(address)) {
      const perAddress = this.deps.maxInboundPerAddress ?? 4;
      const held = this.acceptedByAddress.get(address) ?? new Set<Socket>();
      if (held.size >= perAddress) return this.refuseSocket(socket, 'connection-limit', `at most ${perAddress} connections from ${address}`);
      held.add(socket);
      this.acceptedByAddress.set(address, held);
      socket.once('close', () => {
        held.delete(socket);
        if (held.size === 0 && this.acceptedByAddress.get(address) === held) this.acceptedByAddress.delete(address);
      });
    }
    const seed001 = this.deps.seed001;
    if (!seed001) return this.onInbound(socket);
    // One port, two seed protocols: an id line first is the peer protocol; anything else, or silence, is document 001.
    void sniffProtocol(socket).then(({ protocol, initialBytes }) => {
      if (protocol === 'seed001') seed001(socket, initialBytes);
      else if (protocol === 'closed' || !this.self.offer({ type: 'pm/inbound', socket, initialBytes })) socket.destroy();
    });
  }

  /** A socket that spoke the peer protocol: bans and per-address caps were checked at accept. */
  private onInbound(socket: Socket, initialBytes?: Buffer): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const inbound = this.inboundConnections();
    if (this.deps.maxInbound === 0) return this.refuseSocket(socket, 'connection-limit', 'this node accepts no inbound peers');
    if (inbound.length >= this.deps.maxInbound + INBOUND_HANDSHAKE_HEADROOM) {
      // Every slot is taken: the oldest handshake of the address group with the most handshakes gives way.
      const victim = this.handshakeVictim();
      if (!victim) return this.refuseSocket(socket, 'connection-limit', 'all inbound slots are taken');
      void victim.close('connection-limit', 'evicted: inbound slots are full');
    }
    // admit() runs when the remote's HELLO arrives, long after `conn` is bound.
    const conn: PeerConnection = new PeerConnection({ ...this.connectionInit(socket, 'inbound'), ...(initialBytes ? { initialBytes } : {}), admit: (r) => this.admit(conn, r) });
    this.watch(conn);
  }

  private handshakeVictim(): PeerConnection | undefined {
    const byGroup = new Map<string, PeerConnection[]>();
    for (const c of this.pending) {
      if (c.direction !== 'inbound') continue;
      const g = addressGroup(c.remoteAddress);
      byGroup.set(g, [...(byGroup.get(g) ?? []), c]);
    }
    let worst: PeerConnection[] = [];
    for (const g of byGroup.values()) if (g.length > worst.length) worst = g;
    return worst[0];
  }

  private onHandshake(conn: PeerConnection): void {
    this.pending.delete(conn);
    const hello = conn.remoteHello;
    const nodeId = conn.remoteNodeId;
    if (!hello || !nodeId || !conn.isOpen) return;
    const refuse = (reason: DisconnectReason, why: string): void => void conn.close(reason, why);
    if (nodeId === this.deps.nodeId) return refuse('self-connection', 'connected to itself');
    if (hello.role === 'tracker') {
      // The tracker's liveness probe (document 004: periodic HELLO): answered by the handshake, counted until it closes.
      this.probes.add(conn);
      void conn.close('local-close', 'liveness probe answered');
      return;
    }
    const ban = this.scores.banned([...this.subjects(conn), `id:${nodeId}`, `host:${conn.remoteAddress}`], this.clock.nowMs());
    if (ban) return refuse('banned', `${ban.subject} is banned`);
    const other = this.open.get(nodeId);
    if (other) return refuse('duplicate-connection', `already connected to ${nodeId}`);
    if (conn.direction === 'inbound' && !this.makeRoomFor(conn)) return refuse('connection-limit', 'all inbound slots are taken by peers that are protected from eviction');
    this.open.set(nodeId, conn);
    const key = this.dialKey.get(conn);
    if (key) this.book.markGood(key, nodeId);
    if (hello.port > 0 && conn.direction === 'inbound') this.book.add({ host: conn.remoteAddress, port: hello.port, nodeId }, bookGroup(conn.remoteAddress, hello.port));
    const link: PeerLink = {
      nodeId,
      direction: conn.direction,
      host: conn.remoteAddress,
      port: hello.port,
      hello,
      send: (m) => {
        if (conn.isOpen) conn.send(m);
      },
    };
    this.links.set(nodeId, link);
    this.deps.gossip.tell({ type: 'gossip/peer-up', link });
    this.deps.bus.publish({ type: 'peer-connected', nodeId, host: conn.remoteAddress, port: hello.port, direction: conn.direction });
    conn.send(message('GETADDR', {}));
  }

  /** Makes room for a new inbound peer when `maxInbound` open inbound peers exist: evicts one (`selectEvictionVictim`), or returns false. */
  private makeRoomFor(conn: PeerConnection): boolean {
    const inboundOpen = [...this.open.values()].filter((c) => c.direction === 'inbound');
    if (inboundOpen.length < this.deps.maxInbound) return true;
    const byId = new Map<string, PeerConnection>();
    const candidates: EvictionCandidate[] = inboundOpen.map((c) => {
      const st = this.state.get(c)!;
      const id = c.remoteNodeId!;
      byId.set(id, c);
      return {
        id,
        connectedAt: st.connectedAt,
        latencyMs: c.latencyMs,
        lastBlockAt: st.lastBlockAt,
        lastTxAt: st.lastTxAt,
        group: bookGroup(c.remoteAddress, c.remoteHello?.port ?? 0),
        authenticated: c.remoteIdentity !== undefined,
      };
    });
    const victim = selectEvictionVictim(candidates);
    if (!victim) return false;
    void byId.get(victim.id)!.close('connection-limit', `evicted to make room for ${conn.remoteNodeId}`);
    return true;
  }

  private forget(conn: PeerConnection, info: DisconnectInfo): string | undefined {
    this.pending.delete(conn);
    this.probes.delete(conn);
    this.state.delete(conn);
    const nodeId = conn.remoteNodeId;
    const wasOpen = nodeId !== undefined && this.open.get(nodeId) === conn;
    if (wasOpen) {
      this.open.delete(nodeId);
      this.links.delete(nodeId);
    }
    this.dialKey.delete(conn);
    const points = info.points;
    if (points > 0 && !this.scoredAtPunish.has(conn)) {
      // The key counts only if the handshake proved it; before that, only the address answers for the fault.
      const r = this.scores.add(this.subjects(conn, info.handshakeCompleted ? conn.remoteIdentity : undefined), points, this.clock.nowMs());
      if (r.banned.length > 0) this.publishBan(conn, r.banned, `${info.reason}: ${info.message}`);
    }
    return wasOpen ? nodeId : undefined;
  }

  private onDisconnected(conn: PeerConnection, info: DisconnectInfo): void {
    const key = this.dialKey.get(conn);
    const nodeId = this.forget(conn, info);
    if (nodeId) {
      this.deps.gossip.tell({ type: 'gossip/peer-down', nodeId });
      this.deps.bus.publish({ type: 'peer-disconnected', nodeId, host: conn.remoteAddress, port: conn.remoteHello?.port ?? 0, direction: conn.direction, reason: info.reason });
    }
    if (key && !this.stopping) {
      if (info.reason === 'self-connection') this.book.remove(key);
      else this.book.markFailed(key, this.clock.nowMs());
    }
  }

  private dialMore(): void {
    if (this.stopping) return;
    const now = this.clock.nowMs();
    const connectedKeys = new Set<string>();
    for (const c of [...this.pending, ...this.open.values()]) {
      const k = this.dialKey.get(c) ?? (c.remoteHello?.port ? `${c.remoteAddress}:${c.remoteHello.port}` : undefined);
      if (k) connectedKeys.add(k);
    }
    const connectedIds = new Set(this.open.keys());
    const eligible = (k: string, r: AddressRecord): boolean =>
      !connectedKeys.has(k) &&
      !this.dialing.has(k) &&
      !this.scores.banned([...this.policy.banSubjects(r.host), `host:${r.host}`, ...(r.nodeId ? [`id:${r.nodeId}`] : [])], now) &&
      !(r.nodeId && (connectedIds.has(r.nodeId) || (isAuthenticatedId(r.nodeId) && this.scores.banned([`key:${r.nodeId.slice('ed25519_'.length)}`], now))));
    let fresh = 0;
    for (const [key, rec] of this.book.candidates(now, eligible)) {
      if (this.outboundCount() >= this.deps.maxOutbound) return;
      if (!rec.static && ++fresh > MAX_NEW_DIALS_PER_ROUND) return;
      this.dial(key, rec);
    }
  }

  private dial(key: string, rec: AddressRecord): void {
    this.dialing.add(key);
    connectSocket(rec.host, rec.port, CONNECT_TIMEOUT_MS).then(
      (socket) => this.ctx.deliver({ type: 'pm/dialed', key, socket }),
      () => this.ctx.deliver({ type: 'pm/dial-failed', key }),
    );
  }

  private onDialed(key: string, socket: Socket): void {
    this.dialing.delete(key);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const conn: PeerConnection = new PeerConnection({ ...this.connectionInit(socket, 'outbound'), admit: (r) => this.admit(conn, r) });
    this.dialKey.set(conn, key);
    this.watch(conn);
  }
}

function shuffle<T>(xs: T[], random: RandomSource): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
