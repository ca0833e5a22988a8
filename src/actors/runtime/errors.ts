/** Errors of the actor runtime. Each has a stable `code`. */

export class MailboxFullError extends Error {
  override readonly name = 'MailboxFullError';
  readonly code = 'ERR_MAILBOX_FULL';
  constructor(actor: string, capacity: number) {
    super(`mailbox of ${actor} is full (${capacity} messages)`);
  }
}

export class ActorStoppedError extends Error {
  override readonly name = 'ActorStoppedError';
  readonly code = 'ERR_ACTOR_STOPPED';
  constructor(actor: string) {
    super(`actor ${actor} is stopped`);
  }
}

export class AskTimeoutError extends Error {
  override readonly name = 'AskTimeoutError';
  readonly code = 'ERR_ASK_TIMEOUT';
  constructor(actor: string, ms: number) {
    super(`no reply from ${actor} within ${ms} ms`);
  }
}

/** The actor crashed while handling the request; the asker gets this instead of a reply. */
export class ActorCrashedError extends Error {
  override readonly name = 'ActorCrashedError';
  readonly code = 'ERR_ACTOR_CRASHED';
  constructor(actor: string, cause: unknown) {
    super(`actor ${actor} crashed while handling the request`, { cause });
  }
}

/**
 * A supervisor spent its restart budget and gave up; `cause` is the last
 * failure, of child `child`; `crashes` counts the crashes within `periodMs`
 * (ms) that used up the budget, this one included.
 */
export class EscalationError extends Error {
  override readonly name = 'EscalationError';
  readonly code = 'ERR_ESCALATION';
  constructor(
    readonly supervisor: string,
    readonly child: string,
    readonly crashes: number,
    readonly periodMs: number,
    cause: unknown,
  ) {
    super(`supervisor ${supervisor}: ${crashes} crashes within ${periodMs} ms, the last in child ${child}; giving up`, { cause });
  }
}
