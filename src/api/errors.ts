import type { FastifyReply } from 'fastify';
import { isPolicyOnly, type RejectCode, type RejectedItem } from '../core/reject.js';

/** Codes of API errors that are not transaction rejections. */
export type HttpErrorCode =
  | 'bad-request'
  | 'not-found'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'unavailable'
  | 'internal'
  | 'unauthorized'
  | 'forbidden-host'
  | 'cross-site'
  | 'conflict'
  | 'block-refused';

/**
 * Body of every error answer. `code` is an {@link HttpErrorCode}, or for a
 * refused transaction (`POST /tx`) the {@link RejectCode} of the validation.
 */
export interface HttpErrorBody {
  error: { code: HttpErrorCode | RejectCode; reason: string };
  /** The refused transaction's id, when it could be computed. */
  txid?: string;
}

/** A request the client got wrong; answered with `status` and never logged as an error. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code = 'ERR_HTTP';
  constructor(
    readonly status: number,
    readonly reason: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function sendError(reply: FastifyReply, status: number, code: HttpErrorBody['error']['code'], reason: string, txid?: string): FastifyReply {
  const body: HttpErrorBody = { error: { code, reason } };
  if (txid !== undefined) body.txid = txid;
  return reply.code(status).send(body);
}

/**
 * HTTP status of a refused transaction or block: 409 (conflict with this
 * peer's state, clock or policy: nonce, balance, fee, duplicates, a full
 * mempool or orphan pool, a block time ahead of this clock) when the code is
 * policy-only for that item, else 400 (the item itself is invalid; inside a
 * block the state-dependent codes are the author's fault). One rule,
 * {@link isPolicyOnly}, decides both this and whether a peer is punished.
 */
export function rejectStatus(code: RejectCode, item: RejectedItem = 'transaction'): 400 | 409 {
  return isPolicyOnly(code, item) ? 409 : 400;
}

