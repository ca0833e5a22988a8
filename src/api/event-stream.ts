import type { ServerResponse } from 'node:http';
import type { NodeEvent } from '../actors/events.js';
import { eventView } from './event-views.js';

/** Most dashboards (event-stream clients) served at once; more get 503. */
export const MAX_EVENT_CLIENTS = 32;
/**
 * Bytes a client may leave unread before it is dropped (its browser
 * reconnects and reloads what it missed). A few thousand events: far more
 * than a healthy page ever lags, far less than would hurt the node.
 */
export const MAX_EVENT_CLIENT_BUFFER_BYTES = 1024 * 1024;
/** Interval of the keep-alive comment that stops proxies and browsers from timing the stream out, ms. */
export const EVENT_KEEPALIVE_MS = 15_000;
/** Reconnection delay the browser is told to use (`retry:`), ms. */
export const EVENT_RETRY_MS = 2_000;
/**
 * Longest time an event waits before it is written, ms. Events are gathered
 * and written together, so a node connecting hundreds of blocks a second
 * makes one write per client every {@link EVENT_FLUSH_MS}, not several per
 * block; a person (and the page, which renders in batches of 150 ms) does not
 * see the delay.
 */
export const EVENT_FLUSH_MS = 50;
/** Events gathered before they are written at once, without waiting for {@link EVENT_FLUSH_MS}. */
export const MAX_EVENT_BATCH = 1_000;

/** Something that hands out node events (the node's event bus). */
export interface NodeEventSource {
  subscribe(listener: (e: NodeEvent) => void): () => void;
}

/** Counters of the stream, for /metrics. */
export interface EventStreamStats {
  clients: number;
  /** Events written (counted once per event, whatever the number of clients). */
  events: number;
  /** Clients dropped because they did not read. */
  dropped: number;
}

/**
 * Server-sent events (the WHATWG `text/event-stream` format) of a node's
 * events to every connected dashboard. Each event is turned into its view and
 * JSON once, when it is published (so the node's objects it names, a whole
 * block among them, are not kept alive for the dashboards: holding them until
 * the write made them outlive the young generation and cost the node more in
 * garbage collection than the encoding itself); the encoded events are
 * gathered and, at most {@link EVENT_FLUSH_MS} later, the same bytes go to
 * every client in one write. With no client connected the listener returns at
 * once, so an idle dashboard costs the node nothing. A client that stops
 * reading is cut off at {@link MAX_EVENT_CLIENT_BUFFER_BYTES}.
 */
export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly off: () => void;
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly stats = { events: 0, dropped: 0 };
  /** Encoded events not written yet, and how many. */
  private pending = '';
  private pendingCount = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly flushLater = (): void => this.flush();

  constructor(source: NodeEventSource) {
    this.off = source.subscribe((e) => {
      if (this.clients.size === 0) return;
      this.pending += `event: ${e.type}\ndata: ${JSON.stringify(eventView(e))}\n\n`;
      if (++this.pendingCount >= MAX_EVENT_BATCH) this.flush();
      else if (this.flushTimer === undefined) {
        this.flushTimer = setTimeout(this.flushLater, EVENT_FLUSH_MS);
        this.flushTimer.unref();
      }
    });
  }

  /** Takes over a response as an event stream; false when {@link MAX_EVENT_CLIENTS} are connected already. */
  add(res: ServerResponse): boolean {
    if (this.clients.size >= MAX_EVENT_CLIENTS) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.write(`retry: ${EVENT_RETRY_MS}\n: connected\n\n`);
    this.clients.add(res);
    res.once('close', () => this.remove(res));
    this.keepAlive ??= setInterval(() => this.broadcast(': keep-alive\n\n'), EVENT_KEEPALIVE_MS);
    return true;
  }

  get counters(): EventStreamStats {
    return { clients: this.clients.size, ...this.stats };
  }

  /** Writes the gathered events, then ends every stream and stops listening to the node. */
  close(): void {
    this.off();
    this.flush();
    for (const res of [...this.clients]) res.end();
    this.clients.clear();
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  /** Writes the gathered events to every client. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingCount === 0) return;
    const text = this.pending;
    this.stats.events += this.pendingCount;
    this.pending = '';
    this.pendingCount = 0;
    if (this.clients.size > 0) this.broadcast(text);
  }

  private broadcast(text: string): void {
    const bytes = Buffer.from(text);
    for (const res of this.clients) {
      if (res.writableLength > MAX_EVENT_CLIENT_BUFFER_BYTES) {
        this.stats.dropped++;
        res.destroy();
        this.remove(res);
        continue;
      }
      res.write(bytes);
    }
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.pending = '';
      this.pendingCount = 0;
    }
  }
}
