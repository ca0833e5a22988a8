import { REQUEST_KINDS, type ReplyError, type RequestKind } from './subjects.js';

/**
 * What to do with one request message ({@link RequestRouter.route}):
 * - `ignore`: it has no reply subject, so nobody waits for an answer.
 * - `refuse`: answer at once with `error` (unknown kind, too many in flight).
 * - `answer`: answer it through the peer's API; call
 *   {@link RequestRouter.done} once the reply is sent (or failed).
 */
export type Route = { action: 'ignore' } | { action: 'refuse'; error: ReplyError } | { action: 'answer'; kind: RequestKind };

/**
 * The request side of the NATS bridge as a pure state machine: maps a
 * request subject `<prefix><kind>` to its kind (`docs/nats.md`, "Requests")
 * and admits at most `maxConcurrent` requests at once; past that, requests
 * are refused `busy` rather than queued, so a flood of requests costs the
 * peer a bounded amount of work.
 */
export class RequestRouter {
  private active = 0;

  /**
   * @param prefix the subject every request starts with, up to and including `req.`.
   * @param maxConcurrent most requests answered at once.
   * @throws RangeError when `maxConcurrent` is not a positive integer.
   */
  constructor(
    readonly prefix: string,
    readonly maxConcurrent: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError('maxConcurrent must be a positive integer');
  }

  /** Requests being answered now. */
  get inFlight(): number {
    return this.active;
  }

  /** The request kind of `subject`, or undefined when it names none. */
  kindOf(subject: string): RequestKind | undefined {
    if (!subject.startsWith(this.prefix)) return undefined;
    const token = subject.slice(this.prefix.length);
    return (REQUEST_KINDS as readonly string[]).includes(token) ? (token as RequestKind) : undefined;
  }

  /**
   * Decides what to do with a request on `subject`; `hasReply` says whether
   * it carries a reply subject. An `answer` takes one of the
   * `maxConcurrent` slots until {@link done}.
   */
  route(subject: string, hasReply: boolean): Route {
    if (!hasReply) return { action: 'ignore' };
    const kind = this.kindOf(subject);
    if (kind === undefined) return { action: 'refuse', error: { code: 'bad-request', message: `unknown request kind; one of ${REQUEST_KINDS.join(', ')}` } };
    if (this.active >= this.maxConcurrent) return { action: 'refuse', error: { code: 'busy', message: `more than ${this.maxConcurrent} requests in flight; retry later` } };
    this.active++;
    return { action: 'answer', kind };
  }

  /** An admitted request has been answered (or failed): its slot is free. */
  done(): void {
    if (this.active > 0) this.active--;
  }
}
