/**
 * One resilient NATS connection (nats.js v2) shared by the pattern every
 * cheesechain NATS component needs: start while the server is down, connect
 * when it comes up, reconnect forever after that, report every status change
 * as a typed {@link LinkStatus}, and close promptly even when the server never
 * came up.
 */
import { connect, DebugEvents, Events, type NatsConnection, type Status } from 'nats';
import type { Logger } from 'pino';
import { assertNever } from '../core/reject.js';
import { DEFAULT_MAX_PAYLOAD } from './codec.js';

/** Pause between attempts to reach a server that was never reached, ms. @default 1000 */
export const DEFAULT_FIRST_CONNECT_RETRY_MS = 1_000;
/** Pause between reconnect attempts to a server that went away, ms (nats.js `reconnectTimeWait`). @default 500 */
export const DEFAULT_RECONNECT_TIME_WAIT_MS = 500;
/** Longest wait for buffered messages to reach the server on close, ms. */
export const CLOSE_FLUSH_TIMEOUT_MS = 1_000;
/** Interval of client pings; two missed pongs count as a lost connection, ms. */
export const NATS_PING_INTERVAL_MS = 10_000;

/**
 * What happens to a link, as the nats.js status union (`Events`,
 * `DebugEvents`) folded into what cheesechain acts on.
 */
export type LinkStatus =
  | { type: 'connected'; server: string }
  | { type: 'disconnected'; server: string }
  | { type: 'reconnecting' }
  | { type: 'reconnected'; server: string }
  | { type: 'unreachable'; error: string; attempt: number }
  | { type: 'error'; error: string }
  | { type: 'closed' };

/** Options of a {@link NatsLink}. */
export interface NatsLinkInit {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`; several separated by commas. */
  url: string;
  /** Connection name shown by the server (`connz`). */
  name?: string;
  logger: Logger;
  /** @default DEFAULT_FIRST_CONNECT_RETRY_MS */
  firstConnectRetryMs?: number;
  /** @default DEFAULT_RECONNECT_TIME_WAIT_MS */
  reconnectTimeWaitMs?: number;
}

/** An invalid option of a NATS component. */
export class NatsOptionError extends Error {
  override readonly name = 'NatsOptionError';
  readonly code = 'ERR_NATS_OPTION';
}

/**
 * A connection that survives outages. nats.js reconnects by itself once it
 * has connected (`maxReconnectAttempts: -1`, re-subscribing every
 * subscription); the first connection is retried here instead of with
 * `waitOnFirstConnect: true`, because that option gives no handle to cancel
 * the attempts of a peer stopped before the server ever came up.
 */
export class NatsLink {
  private connection: NatsConnection | undefined;
  private up = false;
  private closing = false;
  private readonly listeners = new Set<(s: LinkStatus) => void>();
  private readonly abort = new AbortController();
  private started = false;
  private readonly log: Logger;

  /** @throws NatsOptionError when `url` is empty or a pause is not a positive integer. */
  constructor(private readonly init: NatsLinkInit) {
    if (typeof init.url !== 'string' || init.url.trim() === '') throw new NatsOptionError('options.url must be a non-empty NATS URL');
    for (const k of ['firstConnectRetryMs', 'reconnectTimeWaitMs'] as const) {
      const v = init[k];
      if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw new NatsOptionError(`options.${k} must be a positive integer`);
    }
    this.log = init.logger;
  }

  /** The connection once it has connected at least once (and until closed). */
  get nc(): NatsConnection | undefined {
    return this.connection;
  }

  /** Whether the link is connected right now (as far as the last status said). */
  get isUp(): boolean {
    return this.up && this.connection !== undefined && !this.connection.isClosed();
  }

  /** The server's `max_payload`, bytes ({@link DEFAULT_MAX_PAYLOAD} until known). */
  get maxPayload(): number {
    return this.connection?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** Listens to status changes; returns the unsubscribe function. */
  onStatus(listener: (s: LinkStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts connecting in the background; status listeners hear `connected` once it succeeds. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connectLoop();
  }

  /** Stops connecting, flushes what is buffered (bounded by {@link CLOSE_FLUSH_TIMEOUT_MS}) and closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abort.abort();
    const nc = this.connection;
    if (!nc || nc.isClosed()) return;
    if (this.up) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([nc.flush().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, CLOSE_FLUSH_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    await nc.close().catch(() => undefined);
  }

  private emit(s: LinkStatus): void {
    this.logStatus(s);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        this.log.error({ err }, 'NATS status listener failed');
      }
    }
  }

  private logStatus(s: LinkStatus): void {
    switch (s.type) {
      case 'connected':
        this.log.info({ server: s.server }, 'NATS connected');
        return;
      case 'disconnected':
        this.log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
        return;
      case 'reconnecting':
        this.log.debug('NATS reconnecting');
        return;
      case 'reconnected':
        this.log.info({ server: s.server }, 'NATS reconnected');
        return;
      case 'unreachable':
        if (s.attempt === 1) this.log.warn({ url: this.init.url, error: s.error }, 'NATS server unreachable; retrying in the background');
        else this.log.debug({ url: this.init.url, error: s.error, attempt: s.attempt }, 'NATS server still unreachable');
        return;
      case 'error':
        this.log.warn({ error: s.error }, 'NATS error');
        return;
      case 'closed':
        this.log.debug('NATS connection closed');
        return;
      default:
        assertNever(s);
    }
  }

  private async connectLoop(): Promise<void> {
    const signal = this.abort.signal;
    const retryMs = this.init.firstConnectRetryMs ?? DEFAULT_FIRST_CONNECT_RETRY_MS;
    for (let attempt = 1; !signal.aborted; attempt++) {
      let nc: NatsConnection;
      try {
        nc = await connect({
          servers: this.init.url.split(',').map((s) => s.trim()),
          ...(this.init.name !== undefined ? { name: this.init.name } : {}),
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.init.reconnectTimeWaitMs ?? DEFAULT_RECONNECT_TIME_WAIT_MS,
          waitOnFirstConnect: false,
          pingInterval: NATS_PING_INTERVAL_MS,
        });
      } catch (err) {
        if (signal.aborted) return;
        this.emit({ type: 'unreachable', error: (err as Error).message, attempt });
        await abortableDelay(retryMs, signal);
        continue;
      }
      if (signal.aborted) {
        await nc.close().catch(() => undefined);
        return;
      }
      this.connection = nc;
      this.up = true;
      this.emit({ type: 'connected', server: nc.getServer() });
      void this.watch(nc);
      return;
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    const closed = nc.closed().then((err) => {
      if (err) this.emit({ type: 'error', error: err.message });
    });
    for await (const s of nc.status()) {
      const status = foldStatus(s);
      if (!status) continue;
      if (status.type === 'disconnected') this.up = false;
      if (status.type === 'reconnected') this.up = true;
      this.emit(status);
    }
    await closed;
    this.up = false;
    this.emit({ type: 'closed' });
  }
}

/** Folds a nats.js status into a {@link LinkStatus}; undefined for those cheesechain ignores. */
export function foldStatus(s: Status): LinkStatus | undefined {
  const type = s.type;
  switch (type) {
    case Events.Disconnect:
      return { type: 'disconnected', server: String(s.data) };
    case Events.Reconnect:
      return { type: 'reconnected', server: String(s.data) };
    case Events.Error:
      return { type: 'error', error: String(s.data) };
    case DebugEvents.Reconnecting:
      return { type: 'reconnecting' };
    case Events.Update:
    case Events.LDM:
    case DebugEvents.PingTimer:
    case DebugEvents.StaleConnection:
    case DebugEvents.ClientInitiatedReconnect:
      return undefined;
    default:
      return assertNever(type);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
