/**
 * Actor references that cross hosts over NATS: an
 * {@link ActorRef} whose `tell` publishes the message as JSON on a subject,
 * and {@link serveActor}, which delivers what arrives on a subject (optionally
 * in a queue group) into a local actor's mailbox. The caller's code is the
 * same whether the actor runs in this thread or on another host.
 *
 * Differences a caller must know: delivery is at most once (NATS core has no
 * acknowledgements), a message sent while the link is down is refused
 * (`offer` returns false, `tell` throws {@link RemoteUnavailableError}), and
 * messages must fit the server's `max_payload`.
 */
import { ErrorCode, type Msg, type NatsError, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { AskTimeoutError } from '../actors/runtime/errors.js';
import { Reply, type ActorRef } from '../actors/runtime/actor.js';
import { decodeJson, encodeJson, MAX_FARM_MESSAGE_BYTES, PayloadTooLargeError } from './codec.js';
import type { NatsLink } from './link.js';

/** How a message type crosses the wire. */
export interface RemoteCodec<M> {
  /** The JSON value sent for `msg` (without its reply channel). */
  encode(msg: M): unknown;
  /**
   * The message for a received JSON value, or undefined when it is invalid
   * (it is dropped, or answered with an error when it was a request). `reply`
   * is present when the sender asked for an answer.
   */
  decode(value: unknown, reply: Reply<unknown> | undefined): M | undefined;
}

/** The remote actor cannot be reached now (the link is down or closed). */
export class RemoteUnavailableError extends Error {
  override readonly name = 'RemoteUnavailableError';
  readonly code = 'ERR_REMOTE_UNAVAILABLE';
  constructor(subject: string, cause?: unknown) {
    super(`remote actor on ${subject} is unreachable: the NATS link is down`, { cause });
  }
}

/** The remote side answered a request with an error (`{error: {code, message}}`). */
export class RemoteReplyError extends Error {
  override readonly name = 'RemoteReplyError';
  readonly code = 'ERR_REMOTE_REPLY';
  constructor(
    subject: string,
    readonly remoteCode: string,
    message: string,
  ) {
    super(`remote actor on ${subject} answered ${remoteCode}: ${message}`);
  }
}

/** Default timeout of {@link NatsActorRef.ask}, ms. */
export const REMOTE_ASK_TIMEOUT_MS = 5_000;

/** An {@link ActorRef} to an actor served on `subject` by {@link serveActor}, possibly on another host. */
export class NatsActorRef<M> implements ActorRef<M> {
  constructor(
    private readonly link: NatsLink,
    readonly subject: string,
    private readonly codec: RemoteCodec<M>,
  ) {}

  get name(): string {
    return `nats:${this.subject}`;
  }

  /**
   * Publishes `msg`.
   * @throws RemoteUnavailableError when the link is down, PayloadTooLargeError over `max_payload`.
   */
  tell(msg: M): void {
    const nc = this.link.nc;
    if (!nc || !this.link.isUp) throw new RemoteUnavailableError(this.subject);
    const data = encodeJson(this.codec.encode(msg), this.link.maxPayload);
    try {
      nc.publish(this.subject, data);
    } catch (err) {
      throw new RemoteUnavailableError(this.subject, err);
    }
  }

  offer(msg: M): boolean {
    try {
      this.tell(msg);
      return true;
    } catch (err) {
      if (err instanceof RemoteUnavailableError || err instanceof PayloadTooLargeError) return false;
      throw err;
    }
  }

  /**
   * Request/reply over NATS: the value the remote actor resolves is the reply.
   * @throws AskTimeoutError when nothing answers within `timeoutMs` (also when
   *   no actor serves the subject or the link is down), RemoteReplyError when
   *   the remote side rejects the request.
   */
  ask<R>(build: (reply: Reply<R>) => M, timeoutMs = REMOTE_ASK_TIMEOUT_MS): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const reply = new Reply<R>(resolve, reject);
      const msg = build(reply);
      const nc = this.link.nc;
      if (!nc || !this.link.isUp) {
        // The same outcome a requester sees during an outage: nobody answers in time.
        setTimeout(() => reply.reject(new AskTimeoutError(this.name, timeoutMs)), timeoutMs);
        return;
      }
      let data: Uint8Array;
      try {
        data = encodeJson(this.codec.encode(msg), this.link.maxPayload);
      } catch (err) {
        reply.reject(err as Error);
        return;
      }
      nc.request(this.subject, data, { timeout: timeoutMs }).then(
        (m) => {
          const decoded = decodeJson(m.data, this.link.maxPayload);
          if (!decoded.ok) return reply.reject(new RemoteReplyError(this.subject, 'bad-json', decoded.message));
          const v = decoded.value as { value?: unknown; error?: { code?: unknown; message?: unknown } };
          if (v.error) return reply.reject(new RemoteReplyError(this.subject, String(v.error.code), String(v.error.message)));
          reply.resolve(v.value as R);
        },
        (err: NatsError) => {
          // Timeout, no responders and a dropped connection all mean: no answer in time.
          if (err.code === ErrorCode.Timeout || err.code === ErrorCode.NoResponders || err.code === ErrorCode.Disconnect) {
            reply.reject(new AskTimeoutError(this.name, timeoutMs));
          } else reply.reject(err);
        },
      );
    });
  }
}

/** Options of {@link serveActor}. */
export interface ServeOptions {
  /** Queue group: each message reaches one member of the group. */
  queue?: string;
  /** Largest message accepted, bytes. @default MAX_FARM_MESSAGE_BYTES */
  maxBytes?: number;
  logger: Logger;
}

/**
 * Delivers messages arriving on `subject` to `target`. Invalid messages are
 * dropped (a request gets `{error: {code: 'bad-request'}}`); when the mailbox
 * is full a request gets `{error: {code: 'busy'}}`. Call after the link has
 * connected; the subscription survives reconnects.
 * @returns the subscription (unsubscribe to stop serving).
 * @throws RemoteUnavailableError when the link never connected.
 */
export function serveActor<M>(link: NatsLink, subject: string, codec: RemoteCodec<M>, target: ActorRef<M>, options: ServeOptions): Subscription {
  const nc = link.nc;
  if (!nc) throw new RemoteUnavailableError(subject);
  const maxBytes = options.maxBytes ?? MAX_FARM_MESSAGE_BYTES;
  const answer = (m: Msg, body: unknown) => {
    try {
      m.respond(encodeJson(body, link.maxPayload));
    } catch (err) {
      options.logger.debug({ err, subject }, 'remote reply not sent');
    }
  };
  return nc.subscribe(subject, {
    ...(options.queue !== undefined ? { queue: options.queue } : {}),
    callback: (err, m) => {
      if (err) {
        options.logger.warn({ err, subject }, 'remote actor subscription failed');
        return;
      }
      const decoded = decodeJson(m.data, maxBytes);
      const reply = m.reply
        ? new Reply<unknown>(
            (value) => answer(m, { value }),
            (e) => answer(m, { error: { code: (e as { code?: string }).code ?? 'failed', message: e.message } }),
          )
        : undefined;
      const msg = decoded.ok ? codec.decode(decoded.value, reply) : undefined;
      if (msg === undefined) {
        options.logger.debug({ subject }, 'invalid remote message dropped');
        reply?.reject(Object.assign(new Error(decoded.ok ? 'invalid message' : decoded.message), { code: 'bad-request' }));
        return;
      }
      if (!target.offer(msg)) reply?.reject(Object.assign(new Error(`mailbox of ${target.name} is full`), { code: 'busy' }));
    },
  });
}
