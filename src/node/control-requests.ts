import { z } from 'zod';
import { MAX_BAN_SECONDS } from '../config/schema.js';
import type { BanTarget, TransferRequest } from './node-api.js';
import { MAX_NODE_ID_BYTES, NODE_ID_PATTERN } from '../transport/limits.js';

/*
 * The bodies of the control actions of a peer's API facade, as the local
 * interfaces receive them (JSON over HTTP, docs/api.md "Control"; JSON over
 * NATS, docs/nats.md "Control requests"). One set of zod schemas for both,
 * so the two interfaces accept exactly the same bodies and name the same
 * field when one is wrong. Every object is strict: an unknown field is an
 * error naming it.
 */

/** Blocks of a chain page unless `limit` says otherwise (the facade caps it at `MAX_CHAIN_PAGE`, 500). */
export const DEFAULT_CHAIN_PAGE = 20;
/** Transfers of a mempool page unless `limit` says otherwise (the facade caps it at `MAX_MEMPOOL_PAGE`, 1,000). */
export const DEFAULT_MEMPOOL_PAGE = 100;
/** Ban length when the request names none, seconds (Bitcoin Core's `setban` default: 24 h). */
export const DEFAULT_OPERATOR_BAN_SECONDS = 24 * 3600;
export { MAX_BAN_SECONDS };

const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters').transform((s) => s.toLowerCase());
// Any id a peer can have on the wire (document 002's ids, and the authenticated `ed25519_<hex>` form of 72 characters).
const nodeId = z.string().regex(NODE_ID_PATTERN, `must be 1–${MAX_NODE_ID_BYTES} characters of A-Z a-z 0-9 _ -`);
const host = z.string().min(1, 'must not be empty').max(253, 'must be at most 253 characters').regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or an IP address');
const baseUnits = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})$/, 'must be a decimal string of base units')
  .transform((s) => BigInt(s));
const seconds = z.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_BAN_SECONDS, `must be at most ${MAX_BAN_SECONDS}`);

/** No parameters: an absent body, `null` or `{}`. */
export const emptyBody = z.union([z.undefined(), z.null(), z.strictObject({})]);
/** `{host, port}`: a peer to dial. */
export const connectBody = z.strictObject({ host, port: z.number().int('must be an integer').min(1, 'must be 1–65535').max(65535, 'must be 1–65535') });
/** `{nodeId}`: a connected peer. */
export const disconnectBody = z.strictObject({ nodeId });
/** `{nodeId}` or `{host}`. */
export const banTargetBody = z.union([z.strictObject({ nodeId }), z.strictObject({ host })], { error: 'give exactly one of nodeId or host' });
/** `{nodeId}` or `{host}`, optionally `seconds` (1 – {@link MAX_BAN_SECONDS}, default {@link DEFAULT_OPERATOR_BAN_SECONDS}). */
export const banBody = z.union([z.strictObject({ nodeId, seconds: seconds.optional() }), z.strictObject({ host, seconds: seconds.optional() })], {
  error: 'give exactly one of nodeId or host (and optionally seconds)',
});
/** `{random: true}` or `{recipient, amount, fee}` (amounts as decimal strings of base units). */
export const sendBody = z.union([z.strictObject({ random: z.literal(true) }), z.strictObject({ recipient: hex64, amount: baseUnits, fee: baseUnits })], {
  error: 'send {"random": true} or {"recipient", "amount", "fee"} (amounts as decimal strings of base units)',
});

/** A body that did not parse: `field` is the dotted path of the first bad field (`body` for the whole). */
export interface BodyError {
  field: string;
  message: string;
}

/** Parses `body` with `schema`; never throws. The error names the first bad field (`recipient: must be 64 hex characters`). */
export function parseControlBody<T extends z.ZodType>(schema: T, body: unknown): { ok: true; value: z.output<T> } | { ok: false; error: BodyError } {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  const issue = pickIssue(r.error.issues, body);
  return { ok: false, error: { field: issue.path.length > 0 ? issue.path.join('.') : 'body', message: issue.message } };
}

/** `field: message`, the wording both interfaces answer with. */
export function describeBodyError(e: BodyError): string {
  return `${e.field}: ${e.message}`;
}

/** A union's own message hides which field was wrong: prefer the one branch that knew every field. */
function pickIssue(issues: z.core.$ZodIssue[], body: unknown): z.core.$ZodIssue {
  const first = issues[0]!;
  if (first.code !== 'invalid_union' || typeof body !== 'object' || body === null) return first;
  const branches = (first as z.core.$ZodIssueInvalidUnion).errors.filter((b) => b.length > 0 && b.every((i) => i.code !== 'unrecognized_keys'));
  if (branches.length === 1) return branches[0]![0]!;
  return first;
}

/** The ban target and length of a parsed {@link banBody}. */
export function banArgs(b: z.output<typeof banBody>): { target: BanTarget; seconds: number } {
  return { target: 'nodeId' in b ? { nodeId: b.nodeId } : { host: b.host }, seconds: b.seconds ?? DEFAULT_OPERATOR_BAN_SECONDS };
}

/** The {@link TransferRequest} of a parsed {@link sendBody}. */
export function transferRequest(b: z.output<typeof sendBody>): TransferRequest {
  return 'random' in b ? { random: true } : { recipient: b.recipient, amount: b.amount, fee: b.fee };
}
