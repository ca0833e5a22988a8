/**
 * The NATS bridge actor of a peer: it
 * publishes the peer's {@link NodeEvent}s on `cheesechain.<network>.<nodeId>.evt.…`
 * and answers `…req.<kind>` requests through the {@link NodeApi}. It is the
 * last child of the peer's root supervisor and never blocks consensus: the
 * event bus only `offer`s events to its mailbox (O(1), dropped when full), and
 * publishing is fire-and-forget.
 *
 * Buffering while NATS is down: the bridge itself keeps the newest
 * {@link DEFAULT_MAX_BUFFERED_EVENTS} encoded events (dropping the oldest) and
 * publishes them in order when the link is back, {@link REPLAY_DELAY_MS}
 * after it reconnects (so that subscribers reconnecting at the same time have
 * re-subscribed). It does not hand them to nats.js while disconnected,
 * because nats.js discards its own outbound buffer at every reconnect
 * attempt. Sent events stay "unconfirmed" until a flush round trip (PING/PONG)
 * proves the server has them; when the link drops first they go back to the
 * buffer. Within the bound, events thus survive an outage at least once (a
 * subscriber may see a `seq` twice); beyond it, `seq` reveals the gap.
 *
 * The decisions are pure modules the actor glues to nats.js and timers: the
 * {@link Outbox} (buffer, confirm-by-flush, replay) and the
 * {@link RequestRouter} (request kinds, the concurrency bound).
 */
import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import { Supervisor, type ChildSpec } from '../actors/runtime/supervisor.js';
import type { Actor, ActorContext, ActorRef, Reply } from '../actors/runtime/actor.js';
import { assertNever } from '../core/reject.js';
import type { EventBus, NodeEvent } from '../actors/events.js';
import type { NodeApi } from '../node/node-api.js';
import { encodeJson, eventMessage, eventName, eventPayload, parseRequest, PayloadTooLargeError } from './codec.js';
import { NatsLink, NatsOptionError, type LinkStatus } from './link.js';
import { Outbox, type SendOutcome } from './outbox.js';
import { RequestRouter } from './request-router.js';
import { answerControlRequest } from './control.js';
import { DEFAULT_CHAIN_PAGE, DEFAULT_MEMPOOL_PAGE } from '../node/control-requests.js';
import {
  eventSubject,
  isControlKind,
  nodeSubject,
  type EventName,
  type EventPayloads,
  type ReplyError,
  type RequestKind,
  type RequestReply,
} from './subjects.js';
import { request } from '../actors/runtime/actor.js';

/** Most encoded events kept while NATS is down (oldest dropped first). @default 1000 */
export const DEFAULT_MAX_BUFFERED_EVENTS = 1_000;
/** Most requests answered at once; more get a `busy` reply. @default 64 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 64;
/** Wait after a reconnect before the buffered events are published, ms. */
export const REPLAY_DELAY_MS = 600;
/** Sent events are confirmed by one flush round trip at most this often, ms. */
export const CONFIRM_INTERVAL_MS = 20;
/** Mailbox capacity of the bridge actor, messages. */
export const BRIDGE_MAILBOX_CAPACITY = 10_000;
/** Supervisor child id of the bridge. */
export const BRIDGE_CHILD_ID = 'nats-bridge';

/** What the bridge needs (js-libp2p style: user options and injected components in one object). */
export interface NatsBridgeInit {
  /** NATS server URL(s), comma-separated. */
  url: string;
  /** Connection name; @default `cheesechain-<nodeId>` */
  name?: string;
  network: string;
  /** Node id of the peer: the subject token under the network. */
  nodeId: string;
  bus: EventBus;
  api: NodeApi;
  logger: Logger;
  /** The peer's API token (`<dataDir>/api.token`), which control requests must carry; without it they are all refused `unauthorized`. */
  controlToken?: string;
  /** @default DEFAULT_MAX_BUFFERED_EVENTS */
  maxBufferedEvents?: number;
  /** @default DEFAULT_MAX_CONCURRENT_REQUESTS */
  maxConcurrentRequests?: number;
  /** Reconnect pause, ms (see `link.ts`). */
  reconnectTimeWaitMs?: number;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
}

/** Counters of a bridge. */
export interface BridgeStats {
  connected: boolean;
  /** Events handed to NATS. */
  published: number;
  /** Events waiting for the link to come back. */
  buffered: number;
  /** Events lost: buffer overflow, a full mailbox, or a payload over `max_payload`. */
  dropped: number;
  /** Requests answered (successfully or with an error reply). */
  answered: number;
}

/** Messages of the bridge actor. */
export type BridgeMsg =
  | { type: 'bridge/event'; event: NodeEvent }
  | { type: 'bridge/link'; status: LinkStatus }
  | { type: 'bridge/request'; msg: Msg }
  | { type: 'bridge/confirmed'; generation: number; upTo: number }
  | { type: 'bridge/replay'; generation: number }
  | { type: 'bridge/stats'; reply: Reply<BridgeStats> };

/** One encoded event in the outbox. */
interface OutboxItem {
  subject: string;
  data: Uint8Array;
}

/**
 * The bridge actor. One instance per (re)start: `start` subscribes to the bus
 * and begins connecting, `stop` publishes `status: stopping` (when the peer
 * did not already), flushes and closes the connection.
 */
export class NatsBridgeActor implements Actor<BridgeMsg> {
  private link: NatsLink | undefined;
  private offBus: (() => void) | undefined;
  private offLink: (() => void) | undefined;
  private sub: Subscription | undefined;
  /** Events waiting for the link, and sent ones not yet confirmed by a flush round trip. */
  private readonly outbox: Outbox<OutboxItem>;
  /** Request kinds and the concurrency bound. */
  private readonly router: RequestRouter;
  private confirmTimer: NodeJS.Timeout | undefined;
  private confirming = false;
  private drainScheduled = false;
  /** Event subjects, built once. */
  private readonly subjects = new Map<EventName, string>();
  private self: ActorRef<BridgeMsg> | undefined;
  private seq = 0;
  private connectedOnce = false;
  private stoppingPublished = false;
  private readonly stats: BridgeStats = { connected: false, published: 0, buffered: 0, dropped: 0, answered: 0 };
  private readonly log: Logger;
  private readonly now: () => number;

  /** @throws NatsOptionError on a bad limit. */
  constructor(private readonly init: NatsBridgeInit) {
    this.log = init.logger.child({ component: 'nats-bridge' });
    const maxBuffered = init.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    const maxConcurrent = init.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS;
    this.now = init.now ?? Date.now;
    if (!Number.isInteger(maxBuffered) || maxBuffered < 0) throw new NatsOptionError('options.maxBufferedEvents must be a non-negative integer');
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new NatsOptionError('options.maxConcurrentRequests must be a positive integer');
    // nodeSubject validates both tokens.
    this.router = new RequestRouter(`${nodeSubject(init.network, init.nodeId)}.req.`, maxConcurrent);
    this.outbox = new Outbox(maxBuffered);
  }

  start(ctx: ActorContext<BridgeMsg>): void {
    const self = ctx.self;
    this.self = self;
    this.offBus = this.init.bus.subscribe((event) => {
      if (!self.offer({ type: 'bridge/event', event })) this.stats.dropped++;
    });
    const link = new NatsLink({
      url: this.init.url,
      name: this.init.name ?? `cheesechain-${this.init.nodeId}`,
      logger: this.log,
      ...(this.init.reconnectTimeWaitMs !== undefined ? { reconnectTimeWaitMs: this.init.reconnectTimeWaitMs } : {}),
    });
    this.link = link;
    this.offLink = link.onStatus((status) => self.offer({ type: 'bridge/link', status }));
    link.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.confirmTimer);
    this.outbox.release(this.sender);
    this.offBus?.();
    this.offLink?.();
    if (!this.stoppingPublished) this.publish('status', { state: 'stopping' });
    this.outbox.flush(this.sender); // hand everything to nats.js now: close() flushes its buffer, not ours
    this.sub?.unsubscribe();
    await this.link?.close();
    this.stats.connected = false;
  }

  receive(msg: BridgeMsg, ctx: ActorContext<BridgeMsg>): void {
    switch (msg.type) {
      case 'bridge/event': {
        if (msg.event.type === 'status' && msg.event.state === 'stopping') this.stoppingPublished = true;
        const name = eventName(msg.event);
        this.publish(name, eventPayload(msg.event));
        return;
      }
      case 'bridge/link':
        this.onLink(msg.status, ctx.self);
        return;
      case 'bridge/request':
        this.onRequest(msg.msg);
        return;
      case 'bridge/confirmed':
        this.outbox.confirm(msg.generation, msg.upTo);
        return;
      case 'bridge/replay':
        this.outbox.replay(msg.generation, this.sender);
        return;
      case 'bridge/stats':
        msg.reply.resolve({ ...this.stats, connected: this.link?.isUp ?? false, buffered: this.outbox.size });
        return;
      default:
        assertNever(msg);
    }
  }

  private onLink(status: LinkStatus, self: ActorRef<BridgeMsg>): void {
    switch (status.type) {
      case 'connected':
      case 'reconnected': {
        this.stats.connected = true;
        if (!this.connectedOnce) {
          this.connectedOnce = true;
          this.subscribeRequests(self);
        }
        const reconnect = status.type === 'reconnected';
        const replay = this.outbox.linkUp(reconnect);
        if (replay !== undefined) setTimeout(() => self.offer({ type: 'bridge/replay', generation: replay }), REPLAY_DELAY_MS);
        else this.outbox.flush(this.sender);
        void this.init.api
          .info()
          .then((info) => this.publish('status', { state: 'online', height: info.height, tip: info.tip, reconnect }))
          .catch((err: unknown) => this.log.debug({ err }, 'no tip for the online status'));
        return;
      }
      case 'disconnected':
      case 'closed':
        this.stats.connected = false;
        // Whatever the server may not have got goes back to the front of the line.
        this.stats.dropped += this.outbox.linkDown();
        return;
      case 'reconnecting':
      case 'unreachable':
      case 'error':
        return;
      default:
        assertNever(status);
    }
  }

  private subscribeRequests(self: ActorRef<BridgeMsg>): void {
    const nc = this.link?.nc;
    if (!nc) return;
    this.sub = nc.subscribe(`${this.router.prefix}*`, {
      callback: (err, m) => {
        if (err) {
          this.log.warn({ err }, 'request subscription failed');
          return;
        }
        if (!self.offer({ type: 'bridge/request', msg: m })) this.respond(m, { ok: false, error: { code: 'busy', message: 'the peer\'s NATS bridge is overloaded; retry later' } });
      },
    });
  }

  /** Encodes and publishes an event, or buffers it while the link is down. Never throws. */
  private publish<E extends EventName>(event: E, data: EventPayloads[E]): void {
    const link = this.link;
    if (!link) return;
    let subject = this.subjects.get(event);
    if (subject === undefined) this.subjects.set(event, (subject = eventSubject(this.init.network, this.init.nodeId, event)));
    let bytes: Uint8Array;
    try {
      bytes = encodeJson(eventMessage(event, data, { network: this.init.network, nodeId: this.init.nodeId, seq: ++this.seq, time: this.now() }), link.maxPayload);
    } catch (err) {
      this.stats.dropped++;
      this.log.warn({ err, event }, 'event not published');
      return;
    }
    this.stats.dropped += this.outbox.add({ subject, data: bytes }, this.sender);
    this.scheduleDrain();
  }

  /**
   * Sends the buffer on the next turn of the event loop rather than event by
   * event: nats.js then writes a whole batch to the socket at once (one
   * syscall instead of one per event, the main cost of publishing).
   */
  private scheduleDrain(): void {
    if (this.drainScheduled || !this.link?.isUp || this.outbox.awaitingReplay) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.outbox.flush(this.sender);
    });
  }

  /** Hands one event to nats.js (the outbox's sender): refused while the link is down, discarded when over `max_payload`. */
  private readonly sender = (item: OutboxItem): SendOutcome => {
    const link = this.link;
    if (!link?.nc || !link.isUp) return 'refused';
    try {
      link.nc.publish(item.subject, item.data);
      this.stats.published++;
      this.scheduleConfirm();
      return 'sent';
    } catch (err) {
      if (err instanceof Error && 'code' in err && (err as { code: unknown }).code === 'MAX_PAYLOAD_EXCEEDED') {
        this.stats.dropped++;
        this.log.warn({ err: new PayloadTooLargeError(item.data.length, link.maxPayload), subject: item.subject }, 'event not published');
        return 'discarded';
      }
      return 'refused';
    }
  };

  /** One flush round trip confirms every event sent before it (NATS keeps the order of one connection). */
  private scheduleConfirm(): void {
    if (this.confirming || this.confirmTimer) return;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = undefined;
      const nc = this.link?.nc;
      if (!nc || !this.link?.isUp || this.outbox.unconfirmed === 0) return;
      const { generation, sentCount: upTo } = this.outbox;
      this.confirming = true;
      nc.flush().then(
        () => {
          this.confirming = false;
          this.self?.offer({ type: 'bridge/confirmed', generation, upTo });
          if (this.outbox.sentCount > upTo) this.scheduleConfirm();
        },
        () => {
          this.confirming = false;
        },
      );
    }, CONFIRM_INTERVAL_MS);
  }

  private onRequest(m: Msg): void {
    const route = this.router.route(m.subject, Boolean(m.reply));
    switch (route.action) {
      case 'ignore':
        this.log.debug({ subject: m.subject }, 'request without a reply subject ignored');
        return;
      case 'refuse':
        this.respond(m, { ok: false, error: route.error });
        return;
      case 'answer':
        void answerRequest(this.init.api, route.kind, m.data, this.init.controlToken)
          .then((reply) => this.respond(m, reply))
          .finally(() => this.router.done());
        return;
      default:
        assertNever(route);
    }
  }

  private respond(m: Msg, reply: RequestReply): void {
    const link = this.link;
    if (!link) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeJson(reply, link.maxPayload);
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      bytes = encodeJson({ ok: false, error: { code: 'too-large', message: `${err.message}; ask for {"summary": true} or use the HTTP API` } } satisfies RequestReply);
    }
    try {
      m.respond(bytes);
      this.stats.answered++;
    } catch (err) {
      this.log.debug({ err, subject: m.subject }, 'reply not sent');
    }
  }
}

function notFound(message: string): RequestReply {
  return { ok: false, error: { code: 'not-found', message } };
}

/**
 * Answers one request through the peer's API: the typed reply of `kind`, or
 * an error reply (`bad-json`, `bad-request`, `not-found`, `rejected`,
 * `internal`; for a control request also `unauthorized` and `unavailable`).
 * A control request is answered only when it carries `controlToken`. Never throws.
 */
export async function answerRequest(api: NodeApi, kind: RequestKind, data: Uint8Array, controlToken?: string): Promise<RequestReply> {
  try {
    if (isControlKind(kind)) return await answerControlRequest(api, controlToken, kind, data);
    switch (kind) {
      case 'info': {
        const p = parseRequest('info', data);
        return p.ok ? { ok: true, result: await api.info() } : p;
      }
      case 'peers': {
        const p = parseRequest('peers', data);
        return p.ok ? { ok: true, result: await api.peers() } : p;
      }
      case 'block': {
        const p = parseRequest('block', data);
        if (!p.ok) return p;
        const view = 'hash' in p.body ? await api.blockByHash(p.body.hash) : await api.blockByHeight(p.body.height);
        if (!view) return notFound('hash' in p.body ? `no block ${p.body.hash}` : `no main-chain block at height ${p.body.height}`);
        if (!p.body.summary) return { ok: true, result: view };
        const { block, ...rest } = view;
        return { ok: true, result: { ...rest, header: block.header, txCount: block.transactions.length } };
      }
      case 'tx': {
        const p = parseRequest('tx', data);
        if (!p.ok) return p;
        const view = await api.transaction(p.body.txid);
        return view ? { ok: true, result: view } : notFound(`no transaction ${p.body.txid} in the mempool or the main chain`);
      }
      case 'account': {
        const p = parseRequest('account', data);
        return p.ok ? { ok: true, result: await api.account(p.body.key) } : p;
      }
      case 'submit': {
        const p = parseRequest('submit', data);
        if (!p.ok) return p;
        const r = await api.submitTransaction(p.body.tx);
        if (r.accepted) return { ok: true, result: { txid: r.txid } };
        const error: ReplyError = { code: 'rejected', message: r.reason, reject: r.code, ...(r.txid !== undefined ? { txid: r.txid } : {}) };
        return { ok: false, error };
      }
      case 'chain': {
        const p = parseRequest('chain', data);
        return p.ok ? { ok: true, result: await api.chain({ ...(p.body.from !== undefined ? { from: p.body.from } : {}), limit: p.body.limit ?? DEFAULT_CHAIN_PAGE }) } : p;
      }
      case 'mempool': {
        const p = parseRequest('mempool', data);
        return p.ok ? { ok: true, result: await api.mempool(p.body.limit ?? DEFAULT_MEMPOOL_PAGE) } : p;
      }
      case 'bans': {
        const p = parseRequest('bans', data);
        return p.ok ? { ok: true, result: await api.bans() } : p;
      }
      default:
        return assertNever(kind);
    }
  } catch (err) {
    return { ok: false, error: { code: 'internal', message: `the peer failed to answer: ${(err as Error).message}` } };
  }
}

/** The supervisor child spec of the bridge (start it last, so it is stopped first). */
export function natsBridgeChildSpec(init: NatsBridgeInit): ChildSpec<BridgeMsg> {
  return { id: BRIDGE_CHILD_ID, start: () => new NatsBridgeActor(init), mailbox: BRIDGE_MAILBOX_CAPACITY, restart: 'permanent' };
}

/** A bridge started outside a node's supervisor (tests, tools). */
export interface RunningBridge {
  ref: ActorRef<BridgeMsg>;
  /** Counters of the bridge. */
  stats(): Promise<BridgeStats>;
  /** Publishes `status: stopping` (if the bus did not), flushes and closes. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a bridge under its own one-child supervisor. A node starts it with
 * {@link natsBridgeChildSpec} under its root supervisor instead.
 * @throws NatsOptionError or SubjectTokenError on bad options.
 */
export async function startNatsBridge(init: NatsBridgeInit): Promise<RunningBridge> {
  const sup = new Supervisor({ name: `nats-bridge-${init.nodeId}`, onEvent: (e) => init.logger.debug({ event: e.type }, 'nats bridge supervisor') });
  const ref = await sup.startChild(natsBridgeChildSpec(init));
  return {
    ref,
    stats: () => request(ref, 'bridge/stats', {}),
    stop: () => sup.stop(),
  };
}
