/**
 * Control requests over NATS (docs/nats.md, "Control requests"): the HTTP
 * API's control routes (docs/api.md, "Control") on `…req.<kind>` subjects.
 * Bodies are the same as over HTTP (the zod schemas of
 * `src/node/control-requests.ts`) plus the peer's API token in `token`;
 * answers are the bridge's `{ok, result}` / `{ok: false, error}` replies.
 */
import { z } from 'zod';
import { tokenMatches } from '../node/api-token.js';
import {
  banArgs,
  banBody,
  banTargetBody,
  connectBody,
  describeBodyError,
  disconnectBody,
  emptyBody,
  parseControlBody,
  sendBody,
  transferRequest,
} from '../node/control-requests.js';
import type { ControlResult, NodeApi } from '../node/node-api.js';
import { assertNever } from '../core/reject.js';
import { decodeJson, MAX_REQUEST_BYTES } from './codec.js';
import type { ControlRequestKind, ReplyError, RequestReply } from './subjects.js';

/** `{block}`: a block in its JSON form (the whole body of HTTP's `POST /blocks`). */
const submitBlockBody = z.strictObject({
  block: z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a block object (its JSON form)'),
});

function fail(code: ReplyError['code'], message: string): { ok: false; error: ReplyError } {
  return { ok: false, error: { code, message } };
}

/** A facade result as a reply: `{}` when done, else its code (`not-found`, `unavailable`, `bad-request`). */
function done(r: ControlResult): RequestReply {
  return r.ok ? { ok: true, result: {} } : fail(r.code, r.reason);
}

/**
 * Checks the token of a control request and answers it through the peer's
 * API. `token` is the peer's API token; without one the peer takes no
 * control requests over NATS. Never throws: a bad body is `bad-json` or
 * `bad-request` (naming the field), a missing or wrong token `unauthorized`.
 */
export async function answerControlRequest(api: NodeApi, token: string | undefined, kind: ControlRequestKind, data: Uint8Array): Promise<RequestReply> {
  const decoded = decodeJson(data, MAX_REQUEST_BYTES);
  if (!decoded.ok) return fail('bad-json', decoded.message);
  const o = decoded.value;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('bad-request', 'request body must be a JSON object');
  const { token: presented, ...body } = o as Record<string, unknown>;
  if (token === undefined) return fail('unauthorized', 'this peer has no API token, so it takes no control requests over NATS');
  if (presented === undefined) return fail('unauthorized', 'a control request needs the peer\'s API token in "token" (64 hex characters, <dataDir>/api.token)');
  if (typeof presented !== 'string' || !tokenMatches(presented, token)) return fail('unauthorized', 'wrong token: use the one in the peer\'s <dataDir>/api.token');

  const parse = <T extends z.ZodType>(schema: T): { ok: true; value: z.output<T> } | { ok: false; error: ReplyError } => {
    const r = parseControlBody(schema, body);
    return r.ok ? r : fail('bad-request', describeBodyError(r.error));
  };
  switch (kind) {
    case 'mining-start': {
      const p = parse(emptyBody);
      return p.ok ? done(await api.startMining()) : p;
    }
    case 'mining-stop': {
      const p = parse(emptyBody);
      return p.ok ? done(await api.stopMining()) : p;
    }
    case 'connect': {
      const p = parse(connectBody);
      return p.ok ? done(await api.connectPeer(p.value.host, p.value.port)) : p;
    }
    case 'connect-tracker': {
      const p = parse(emptyBody);
      if (!p.ok) return p;
      const r = await api.connectTrackerPeers();
      return r.ok ? { ok: true, result: { dialing: r.dialing ?? 0 } } : done(r);
    }
    case 'disconnect': {
      const p = parse(disconnectBody);
      return p.ok ? done(await api.disconnectPeer(p.value.nodeId)) : p;
    }
    case 'ban': {
      const p = parse(banBody);
      if (!p.ok) return p;
      const { target, seconds } = banArgs(p.value);
      return done(await api.ban(target, seconds));
    }
    case 'unban': {
      const p = parse(banTargetBody);
      return p.ok ? done(await api.unban(p.value)) : p;
    }
    case 'send': {
      const p = parse(sendBody);
      if (!p.ok) return p;
      const r = await api.sendTransfer(transferRequest(p.value));
      if (r.accepted) return { ok: true, result: { txid: r.txid, tx: r.tx! } };
      return { ok: false, error: { code: 'rejected', message: r.reason, reject: r.code, ...(r.txid !== undefined ? { txid: r.txid } : {}) } };
    }
    case 'submit-block': {
      const p = parse(submitBlockBody);
      if (!p.ok) return p;
      const r = await api.submitBlock(p.value.block);
      switch (r.status) {
        case 'malformed':
          return fail('bad-request', `block: ${r.reason}`);
        case 'invalid':
          return { ok: false, error: { code: 'rejected', message: r.reason, reject: r.code, hash: r.hash } };
        default:
          return { ok: true, result: r };
      }
    }
    case 'stop': {
      const p = parse(emptyBody);
      return p.ok ? done(await api.stopNode()) : p;
    }
    default:
      return assertNever(kind);
  }
}
