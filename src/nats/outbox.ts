/**
 * What a sender did with one item handed to it by {@link Outbox.flush}:
 * - `sent`: the connection took it; it waits for confirmation.
 * - `refused`: the connection cannot take it now (down, or the bridge waits
 *   for a replay); it stays first in line and the flush stops.
 * - `discarded`: it can never be sent (over the server's `max_payload`); it
 *   leaves the outbox (the sender counts and logs it).
 */
export type SendOutcome = 'sent' | 'refused' | 'discarded';

/** Hands one item to the connection (nats.js `publish`); must not throw. */
export type Sender<T> = (item: T) => SendOutcome;

/**
 * The NATS bridge's outbox, as a pure state machine (no timers, no
 * connection: the caller hands a {@link Sender} to the calls that send).
 * Items (encoded events) wait in order while the link is down and are sent
 * oldest first when it is up; a sent item stays "unconfirmed" until a flush
 * round trip started after it (NATS keeps the order of one connection, so
 * one PONG confirms everything published before its PING) reports back with
 * {@link confirm}. When the link drops first, the unconfirmed items go back
 * to the front of the line ({@link linkDown}): every item survives an outage
 * at least once, within the bound.
 *
 * Bound: waiting and unconfirmed items together are at most `max`; past it
 * the oldest waiting item is dropped (counted in the return values). Every
 * disconnect starts a new generation: a confirmation or a replay of an older
 * connection is ignored.
 *
 * Replay: after a reconnect with items waiting, sending pauses until
 * {@link replay} (the bridge waits `REPLAY_DELAY_MS` so that subscribers
 * reconnecting at the same time have re-subscribed).
 */
export class Outbox<T> {
  private waitingItems: T[] = [];
  private unconfirmedItems: Array<{ item: T; sent: number }> = [];
  private sentTotal = 0;
  private gen = 0;
  private replaying = false;

  /** @throws RangeError when `max` is not a non-negative integer. */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError('max must be a non-negative integer');
  }

  /** Items waiting to be sent. */
  get waiting(): number {
    return this.waitingItems.length;
  }

  /** Items sent and not yet confirmed. */
  get unconfirmed(): number {
    return this.unconfirmedItems.length;
  }

  /** Items not yet known to be at the server: waiting plus unconfirmed. */
  get size(): number {
    return this.waitingItems.length + this.unconfirmedItems.length;
  }

  /** The current connection's generation (bumped by {@link linkDown}). */
  get generation(): number {
    return this.gen;
  }

  /** Items sent so far: a confirmation covering everything sent until now carries this as `upTo`. */
  get sentCount(): number {
    return this.sentTotal;
  }

  /** Whether sending waits for {@link replay}. */
  get awaitingReplay(): boolean {
    return this.replaying;
  }

  /**
   * Adds an item at the end of the line. When the outbox is full it first
   * sends what it can through `send` (a burst larger than the bound while
   * connected is sent rather than dropped), then drops the oldest waiting
   * items. With `max` 0 the item itself is dropped.
   * @returns the number of items dropped.
   */
  add(item: T, send: Sender<T>): number {
    if (this.max === 0) return 1;
    let dropped = 0;
    if (this.size >= this.max) this.flush(send);
    while (this.size >= this.max && this.waitingItems.length > 0) {
      this.waitingItems.shift();
      dropped++;
    }
    this.waitingItems.push(item);
    return dropped;
  }

  /**
   * Sends waiting items oldest first until `send` refuses one or none is
   * left; does nothing while a replay is awaited. A sent item beyond the
   * bound pushes out the oldest unconfirmed one (a server that stops
   * answering PINGs must not make the outbox grow without bound).
   */
  flush(send: Sender<T>): void {
    while (this.waitingItems.length > 0 && !this.replaying) {
      const item = this.waitingItems[0] as T;
      const outcome = send(item);
      if (outcome === 'refused') return;
      this.waitingItems.shift();
      if (outcome === 'sent') {
        this.unconfirmedItems.push({ item, sent: this.sentTotal++ });
        if (this.unconfirmedItems.length > this.max) this.unconfirmedItems.shift();
      }
    }
  }

  /**
   * A flush round trip of connection `generation`, started when
   * {@link sentCount} was `upTo`, completed: the items sent before it are at
   * the server. A confirmation of an older generation is ignored.
   * @returns the number of items confirmed.
   */
  confirm(generation: number, upTo: number): number {
    if (generation !== this.gen) return 0;
    let i = 0;
    while (i < this.unconfirmedItems.length && (this.unconfirmedItems[i] as { sent: number }).sent < upTo) i++;
    this.unconfirmedItems.splice(0, i);
    return i;
  }

  /**
   * The link dropped: a new generation starts, and the unconfirmed items go
   * back to the front of the line, in order, the oldest dropped past the bound.
   * @returns the number of items dropped.
   */
  linkDown(): number {
    this.gen++;
    if (this.unconfirmedItems.length === 0) return 0;
    this.waitingItems.unshift(...this.unconfirmedItems.map((u) => u.item));
    this.unconfirmedItems = [];
    let dropped = 0;
    while (this.waitingItems.length > this.max) {
      this.waitingItems.shift();
      dropped++;
    }
    return dropped;
  }

  /**
   * The link is up. After a reconnect with items waiting, sending pauses
   * until {@link replay} with the returned generation; otherwise the caller
   * may {@link flush} at once.
   * @returns the generation to replay, or undefined when nothing waits for a replay.
   */
  linkUp(reconnect: boolean): number | undefined {
    if (!reconnect || this.waitingItems.length === 0) return undefined;
    this.replaying = true;
    return this.gen;
  }

  /** The replay delay of connection `generation` ended: sending resumes and the waiting items are sent. Ignored for an older generation. */
  replay(generation: number, send: Sender<T>): void {
    if (generation !== this.gen) return;
    this.release(send);
  }

  /** Ends any replay wait and sends what waits (the bridge is stopping: everything goes to the connection now). */
  release(send: Sender<T>): void {
    this.replaying = false;
    this.flush(send);
  }
}
