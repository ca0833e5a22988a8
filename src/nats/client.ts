/**
 * The requester side of the per-peer request subjects (`req.<kind>`): one
 * function that sends a request, waits at most `timeoutMs` and returns the
 * typed reply, or throws a typed error when no reply came.
 */
import { ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { decodeJson, encodeJson } from './codec.js';
import { requestSubject, type RequestBodies, type RequestKind, type RequestReply } from './subjects.js';

/** Default time a requester waits for a reply, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/**
 * Why a request got no reply:
 * - `timeout`: nothing answered in time (the server or the peer is down, or the link dropped meanwhile);
 * - `no-responders`: the server is up but no peer serves that subject (wrong node id, or its bridge is not connected);
 * - `bad-reply`: the answer is not a reply object.
 */
export type NatsRequestErrorCode = 'timeout' | 'no-responders' | 'bad-reply';

/** A request that got no usable reply. */
export class NatsRequestError extends Error {
  override readonly name = 'NatsRequestError';
  readonly code: `ERR_NATS_REQUEST_${Uppercase<NatsRequestErrorCode>}`;
  constructor(
    readonly reason: NatsRequestErrorCode,
    readonly subject: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = `ERR_NATS_REQUEST_${reason.toUpperCase() as Uppercase<NatsRequestErrorCode>}`;
  }
}

/**
 * Sends a request of `kind` to peer `nodeId` and returns its reply (which may
 * be an error reply: `{ok: false, error}`).
 * @throws NatsRequestError (`timeout`, `no-responders`, `bad-reply`).
 */
export async function requestNode<K extends RequestKind>(
  nc: NatsConnection,
  network: string,
  nodeId: string,
  kind: K,
  body: RequestBodies[K] | Record<string, unknown> | Uint8Array,
  timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
): Promise<RequestReply<K>> {
  const subject = requestSubject(network, nodeId, kind);
  const data = body instanceof Uint8Array ? body : encodeJson(body);
  let reply;
  try {
    reply = await nc.request(subject, data, { timeout: timeoutMs });
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === ErrorCode.NoResponders) throw new NatsRequestError('no-responders', subject, `no peer answers on ${subject}`, { cause: err });
    if (code === ErrorCode.Timeout || code === ErrorCode.Disconnect || code === ErrorCode.ConnectionClosed) {
      throw new NatsRequestError('timeout', subject, `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
    }
    throw err;
  }
  const decoded = decodeJson(reply.data, Number.MAX_SAFE_INTEGER);
  const v = decoded.ok ? (decoded.value as { ok?: unknown }) : undefined;
  if (!v || typeof v !== 'object' || typeof v.ok !== 'boolean') throw new NatsRequestError('bad-reply', subject, `reply on ${subject} is not {ok, result|error}`);
  return v as RequestReply<K>;
}
