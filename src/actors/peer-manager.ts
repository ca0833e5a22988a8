import { createServer, connect, type Server, type Socket } from 'node:net';
import { assertNever } from '../core/reject.js';
import type { EventBus } from './events.js';
import { PeerConnection, type ChainStatus, type DisconnectInfo, type DisconnectReason } from '../transport/connection.js';
import { CONNECT_TIMEOUT_MS, MAX_ADDR_ADDRESSES } from '../transport/limits.js';
import { message, type AddrEntry, type Message } from '../transport/messages.js';
import type { GossipMsg, Offence, PeerLink } from './gossip.js';
import type { Actor, ActorContext, ActorRef, Reply } from './runtime/actor.js';
import { cryptoRandom, systemClock, type Clock, type RandomSource } from '../core/clock.js';

/** How often the peer manager dials towards its outbound target, ms. */
export const DIAL_INTERVAL_MS = 1_000;
/** How often a sample of the address book is relayed to every peer with ADDR (document 004: "on a timely basis"), ms. */
export const ADDR_RELAY_INTERVAL_MS = 30_000;
/** Most addresses kept in the address book. */
export const MAX_ADDRESS_BOOK = 1_000;
/** Reconnection backoff: first delay and ceiling, ms (doubled per consecutive failure). */
export const RECONNECT_BACKOFF_MIN_MS = 500;
export const RECONNECT_BACKOFF_MAX_MS = 60_000;
/** Addresses relayed per ADDR round. */
export const ADDR_RELAY_SAMPLE = 100;

interface AddressRecord extends AddrEntry {
  failures: number;
  nextAttemptAt: number;
  /** Static peers from the config are never forgotten. */
  static: boolean;
}

/** Messages of the peer manager. */
/** One connected peer as the peer manager reports it (HTTP API, NATS `req.peers`). */
export interface PeerView {
  nodeId: string;
  host: string;
  port: number;
  direction: 'inbound' | 'outbound';
  height: number;
}

/** Events the peer manager publishes on the node's bus. */
export type PeerEvent =
  | { type: 'peer-connected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound' }
  | { type: 'peer-disconnected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound'; reason: string }
  | { type: 'peer-banned'; nodeId: string; host: string; reason: string; untilMs: number };

export type PeerManagerMsg =
  | { type: 'pm/inbound'; socket: Socket }
  | { type: 'pm/handshake-done'; conn: PeerConnection }
  | { type: 'pm/disconnected'; conn: PeerConnection; info: DisconnectInfo }
  | { type: 'pm/early-message'; conn: PeerConnection; message: Message }
  | { type: 'pm/dial-failed'; key: string }
  | { type: 'pm/punish'; nodeId: string; offence: Offence }
  | { type: 'pm/learn'; addresses: AddrEntry[]; from: string; static?: boolean }
  | { type: 'pm/dial-tick' }
  | { type: 'pm/addr-tick' }
  | { type: 'pm/peers'; reply: Reply<PeerView[]> }
  | { type: 'pm/listen-port'; reply: Reply<number> };

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
  banSeconds: number;
  handshakeTimeoutMs: number;
  gossip: ActorRef<GossipMsg>;
  bus: EventBus;
  /** The tip, read whenever HELLO or HEY is sent. */
  status: () => ChainStatus;
  /** @default systemClock */
  clock?: Clock;
  /** Shuffles of addresses to dial. @default cryptoRandom */
  random?: RandomSource;
  /** Liveness ping interval, ms (transport default when absent). */
  pingIntervalMs?: number;
}

/**
 * The peer manager: owns the listener, dials peers from the address book (fed
 * by the config, the tracker and ADDR) up to the outbound limit with
 * exponential backoff, refuses inbound connections past the inbound limit,
 * keeps at most one connection per node id and none to itself, bans
 * misbehaving peers for `banSeconds` (by node id and by listen address:
 * banning by IP alone would ban every peer of a loopback network), and relays
 * addresses periodically.
 */
export class PeerManagerActor implements Actor<PeerManagerMsg> {
  private server: Server | undefined;
  private port = 0;
  private readonly book = new Map<string, AddressRecord>();
  private readonly pending = new Set<PeerConnection>();
  private readonly open = new Map<string, PeerConnection>();
  /** Address-book key of each outbound connection. */
  private readonly dialKey = new Map<PeerConnection, string>();
  private readonly dialing = new Set<string>();
  private readonly bans = new Map<string, number>();
  private self!: ActorRef<PeerManagerMsg>;
  private ctx!: ActorContext<PeerManagerMsg>;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private stopping = false;

  constructor(private readonly deps: PeerManagerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? cryptoRandom;
  }

  async start(ctx: ActorContext<PeerManagerMsg>): Promise<void> {
    this.self = ctx.self;
    this.ctx = ctx;
    for (const p of this.deps.staticPeers) this.addAddress({ host: p.host, port: p.port }, true);
    const server = createServer((socket) => {
      if (!this.self.offer({ type: 'pm/inbound', socket })) socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.deps.listenPort, this.deps.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    ctx.every(DIAL_INTERVAL_MS, { type: 'pm/dial-tick' });
    ctx.every(ADDR_RELAY_INTERVAL_MS, { type: 'pm/addr-tick' });
    this.self.offer({ type: 'pm/dial-tick' });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.pending, ...this.open.values()];
    await Promise.all(all.map((c) => c.close('shutdown', 'node is stopping')));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  receive(msg: PeerManagerMsg): void {
    switch (msg.type) {
      case 'pm/inbound':
        this.onInbound(msg.socket);
        return;
      case 'pm/handshake-done':
        this.onHandshake(msg.conn);
        return;
      case 'pm/disconnected':
        this.onDisconnected(msg.conn, msg.info);
        return;
      case 'pm/early-message': {
        const id = msg.conn.remoteNodeId;
        if (id && this.open.get(id) === msg.conn) this.forward(msg.conn, msg.message);
        return;
      }
      case 'pm/dial-failed':
        this.dialing.delete(msg.key);
        this.backoff(msg.key);
        return;
      case 'pm/punish': {
        const conn = this.open.get(msg.nodeId);
        this.ban(msg.nodeId, conn ? this.listenKey(conn) : undefined);
        const o = msg.offence;
        const item = o.kind === 'invalid-block' ? { method: 'BLOCK' as const, hash: o.hash } : { method: 'PUSHTRANSACTION' as const, hash: o.txid };
        void conn?.reject(o.kind, `${o.kind === 'invalid-block' ? 'block' : 'transaction'} ${item.hash}: ${o.reason}`, { ...item, code: o.code });
        return;
      }
      case 'pm/learn':
        for (const a of msg.addresses.slice(0, MAX_ADDR_ADDRESSES)) this.addAddress(a, msg.static ?? false);
        if (msg.static) this.dialMore();
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
      case 'pm/listen-port':
        msg.reply.resolve(this.port);
        return;
      default:
        assertNever(msg);
    }
  }

  /** Addresses to answer GETADDR with: connected peers' listen addresses first, then the book. */
  addresses(): AddrEntry[] {
    const out = new Map<string, AddrEntry>();
    for (const c of this.open.values()) {
      const h = c.remoteHello!;
      if (h.port > 0) out.set(`${c.remoteAddress}:${h.port}`, { host: c.remoteAddress, port: h.port, nodeId: h.nodeId });
    }
    for (const [k, r] of this.book) if (out.size < MAX_ADDR_ADDRESSES && !out.has(k)) out.set(k, { host: r.host, port: r.port, ...(r.nodeId ? { nodeId: r.nodeId } : {}) });
    return [...out.values()].slice(0, MAX_ADDR_ADDRESSES);
  }

  private peerViews(): PeerView[] {
    return [...this.open.values()].map((c) => ({
      nodeId: c.remoteNodeId!,
      host: c.remoteAddress,
      port: c.remoteHello!.port,
      direction: c.direction,
      height: c.remoteHello!.height,
    }));
  }

  private addAddress(a: AddrEntry, isStatic: boolean): void {
    if (a.nodeId === this.deps.nodeId) return;
    if (a.port === this.port && isLoopback(a.host)) return;
    const key = `${a.host}:${a.port}`;
    const known = this.book.get(key);
    if (known) {
      if (a.nodeId) known.nodeId = a.nodeId;
      known.static ||= isStatic;
      return;
    }
    if (this.book.size >= MAX_ADDRESS_BOOK) {
      const victim = [...this.book.entries()].find(([, r]) => !r.static && r.failures > 0) ?? [...this.book.entries()].find(([, r]) => !r.static);
      if (!victim) return;
      this.book.delete(victim[0]);
    }
    this.book.set(key, { ...a, failures: 0, nextAttemptAt: 0, static: isStatic });
  }

  private isBanned(key: string): boolean {
    const until = this.bans.get(key);
    if (until === undefined) return false;
    if (until <= this.clock.nowMs()) {
      this.bans.delete(key);
      return false;
    }
    return true;
  }

  private ban(nodeId: string | undefined, address: string | undefined): void {
    const until = this.clock.nowMs() + this.deps.banSeconds * 1000;
    if (nodeId) this.bans.set(`id:${nodeId}`, until);
    if (address) this.bans.set(`addr:${address}`, until);
  }

  private listenKey(conn: PeerConnection): string | undefined {
    const port = conn.remoteHello?.port;
    return port ? `${conn.remoteAddress}:${port}` : this.dialKey.get(conn);
  }

  private outboundCount(): number {
    let n = 0;
    for (const c of [...this.pending, ...this.open.values()]) if (c.direction === 'outbound') n++;
    return n + this.dialing.size;
  }

  private inboundCount(): number {
    let n = 0;
    for (const c of [...this.pending, ...this.open.values()]) if (c.direction === 'inbound') n++;
    return n;
  }

  private connectionInit(socket: Socket, direction: 'inbound' | 'outbound') {
    return {
      socket,
      direction,
      nodeId: this.deps.nodeId,
      listenPort: this.port,
      network: this.deps.network,
      status: this.deps.status,
      handshakeTimeoutMs: this.deps.handshakeTimeoutMs,
      ...(this.deps.pingIntervalMs ? { pingIntervalMs: this.deps.pingIntervalMs } : {}),
    };
  }

  private watch(conn: PeerConnection): void {
    this.pending.add(conn);
    // A connection the actor never hears of would be neither counted nor closed: a full mailbox is a crash, not a drop.
    const up = (c: PeerConnection) => this.ctx.deliver({ type: 'pm/handshake-done', conn: c });
    const down = (c: PeerConnection, info: DisconnectInfo) => {
      if (!this.self.offer({ type: 'pm/disconnected', conn: c, info })) this.forget(c, info);
    };
    conn.on('inbound_node_connected', up);
    conn.on('outbound_node_connected', up);
    conn.on('inbound_node_disconnected', down);
    conn.on('outbound_node_disconnected', down);
    conn.on('node_message', (c, m) => {
      const id = c.remoteNodeId;
      // Until this actor has registered the connection, its messages queue behind the handshake here, in order.
      if (id && this.open.get(id) === c) this.forward(c, m);
      else if (!this.self.offer({ type: 'pm/early-message', conn: c, message: m })) void c.close('stalled', 'peer manager mailbox is full');
    });
  }

  private forward(conn: PeerConnection, m: Message): void {
    if (!this.deps.gossip.offer({ type: 'gossip/message', nodeId: conn.remoteNodeId!, message: m })) {
      void conn.close('stalled', 'this node cannot keep up with the messages of this peer');
    }
  }

  private onInbound(socket: Socket): void {
    if (this.stopping || this.inboundCount() >= this.deps.maxInbound) {
      socket.destroy();
      return;
    }
    this.watch(new PeerConnection(this.connectionInit(socket, 'inbound')));
  }

  private onHandshake(conn: PeerConnection): void {
    this.pending.delete(conn);
    const hello = conn.remoteHello;
    const nodeId = conn.remoteNodeId;
    if (!hello || !nodeId || !conn.isOpen) return;
    const refuse = (reason: DisconnectReason, why: string): void => void conn.close(reason, why);
    if (nodeId === this.deps.nodeId) return refuse('self-connection', 'connected to itself');
    // The tracker's liveness probe (document 004: periodic HELLO) completes the handshake and leaves; it is no peer.
    if (hello.role === 'tracker') return;
    const address = this.listenKey(conn);
    if (this.isBanned(`id:${nodeId}`) || (address && this.isBanned(`addr:${address}`))) return refuse('banned', `${nodeId} is banned`);
    if (this.open.has(nodeId)) return refuse('duplicate-connection', `already connected to ${nodeId}`);
    this.open.set(nodeId, conn);
    const key = this.dialKey.get(conn);
    if (key) {
      const rec = this.book.get(key);
      if (rec) {
        rec.failures = 0;
        rec.nodeId = nodeId;
      }
    }
    if (hello.port > 0) this.addAddress({ host: conn.remoteAddress, port: hello.port, nodeId }, false);
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
    this.deps.gossip.tell({ type: 'gossip/peer-up', link });
    this.deps.bus.publish({ type: 'peer-connected', nodeId, host: conn.remoteAddress, port: hello.port, direction: conn.direction });
    conn.send(message('GETADDR', {}));
  }

  private forget(conn: PeerConnection, info: DisconnectInfo): string | undefined {
    this.pending.delete(conn);
    const nodeId = conn.remoteNodeId;
    const wasOpen = nodeId !== undefined && this.open.get(nodeId) === conn;
    if (wasOpen) this.open.delete(nodeId);
    const key = this.dialKey.get(conn);
    this.dialKey.delete(conn);
    if (info.penalty === 'ban') this.ban(nodeId, this.listenKey(conn) ?? key);
    return wasOpen ? nodeId : undefined;
  }

  private onDisconnected(conn: PeerConnection, info: DisconnectInfo): void {
    const key = this.dialKey.get(conn);
    const nodeId = this.forget(conn, info);
    if (nodeId) {
      this.deps.gossip.tell({ type: 'gossip/peer-down', nodeId });
      this.deps.bus.publish({ type: 'peer-disconnected', nodeId, host: conn.remoteAddress, port: conn.remoteHello?.port ?? 0, direction: conn.direction, reason: info.reason });
    }
    if (info.penalty === 'ban') {
      this.deps.bus.publish({ type: 'peer-banned', nodeId: conn.remoteNodeId ?? '', host: conn.remoteAddress, reason: `${info.reason}: ${info.message}`, untilMs: this.clock.nowMs() + this.deps.banSeconds * 1000 });
    }
    if (key && !this.stopping) {
      if (info.reason === 'self-connection') this.book.delete(key);
      else this.backoff(key);
    }
  }

  private backoff(key: string): void {
    const rec = this.book.get(key);
    if (!rec) return;
    rec.failures++;
    rec.nextAttemptAt = this.clock.nowMs() + Math.min(RECONNECT_BACKOFF_MIN_MS * 2 ** (rec.failures - 1), RECONNECT_BACKOFF_MAX_MS);
  }

  private dialMore(): void {
    if (this.stopping) return;
    const now = this.clock.nowMs();
    const connectedKeys = new Set<string>();
    for (const c of [...this.pending, ...this.open.values()]) {
      const k = this.dialKey.get(c) ?? this.listenKey(c);
      if (k) connectedKeys.add(k);
    }
    const connectedIds = new Set(this.open.keys());
    const candidates = [...this.book.entries()]
      .filter(([k, r]) => !connectedKeys.has(k) && !this.dialing.has(k) && r.nextAttemptAt <= now && !this.isBanned(`addr:${k}`) && !(r.nodeId && (connectedIds.has(r.nodeId) || this.isBanned(`id:${r.nodeId}`))))
      .sort((a, b) => Number(b[1].static) - Number(a[1].static) || a[1].failures - b[1].failures);
    for (const [key, rec] of candidates) {
      if (this.outboundCount() >= this.deps.maxOutbound) return;
      this.dial(key, rec);
    }
  }

  private dial(key: string, rec: AddressRecord): void {
    this.dialing.add(key);
    const socket = connect({ host: rec.host, port: rec.port });
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), CONNECT_TIMEOUT_MS);
    socket.once('error', () => {
      clearTimeout(timer);
      this.ctx.deliver({ type: 'pm/dial-failed', key });
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      this.dialing.delete(key);
      if (this.stopping) {
        socket.destroy();
        return;
      }
      const conn = new PeerConnection(this.connectionInit(socket, 'outbound'));
      this.dialKey.set(conn, key);
      this.watch(conn);
    });
  }

  private relayAddresses(): void {
    const all = this.addresses();
    for (const c of this.open.values()) {
      const sample = shuffle(all.filter((a) => a.nodeId !== c.remoteNodeId), this.random).slice(0, ADDR_RELAY_SAMPLE);
      if (sample.length > 0 && c.isOpen) c.send(message('ADDR', { addresses: sample }));
    }
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function shuffle<T>(xs: T[], random: RandomSource): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
