import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ControlResult, NodeApi } from '../node/node-api.js';
import { HttpError, rejectStatus, sendError } from './errors.js';

/*
 * Control actions (docs/api.md, "Control"): every route here is registered
 * with `config: { control: true }`, so guard.ts refuses it without the API
 * token (401) and from another site (403). Bodies are checked by zod; a bad
 * field is a 400 whose reason names it.
 */

/** Longest ban an operator may set, seconds (one year). */
export const MAX_BAN_SECONDS = 365 * 24 * 3600;
/** Ban length when the request names none, seconds (Bitcoin Core's `setban` default: 24 h). */
export const DEFAULT_BAN_SECONDS = 24 * 3600;

const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters').transform((s) => s.toLowerCase());
const nodeId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ -');
const host = z.string().min(1, 'must not be empty').max(253, 'must be at most 253 characters').regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or an IP address');
const baseUnits = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})$/, 'must be a decimal string of base units')
  .transform((s) => BigInt(s));

const connectBody = z.strictObject({ host, port: z.number().int('must be an integer').min(1, 'must be 1–65535').max(65535, 'must be 1–65535') });
const disconnectBody = z.strictObject({ nodeId });
const banTarget = z.union([z.strictObject({ nodeId }), z.strictObject({ host })], { error: 'give exactly one of nodeId or host' });
const banBody = z.union(
  [
    z.strictObject({ nodeId, seconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_BAN_SECONDS, `must be at most ${MAX_BAN_SECONDS}`).optional() }),
    z.strictObject({ host, seconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_BAN_SECONDS, `must be at most ${MAX_BAN_SECONDS}`).optional() }),
  ],
  { error: 'give exactly one of nodeId or host (and optionally seconds)' },
);
const sendBody = z.union([z.strictObject({ random: z.literal(true) }), z.strictObject({ recipient: hex64, amount: baseUnits, fee: baseUnits })], {
  error: 'send {"random": true} or {"recipient", "amount", "fee"} (amounts as decimal strings of base units)',
});
const empty = z.union([z.undefined(), z.null(), z.strictObject({})]);

/**
 * Parses a body with `schema`.
 * @throws HttpError 400 naming the first bad field (`recipient: must be 64 hex characters`).
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = pickIssue(r.error.issues, body);
  const path = issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new HttpError(400, 'bad-request', `${path}: ${issue.message}`);
}

/** A union's own message hides which field was wrong: prefer the branch that matched the most fields. */
function pickIssue(issues: z.core.$ZodIssue[], body: unknown): z.core.$ZodIssue {
  const first = issues[0]!;
  if (first.code !== 'invalid_union' || typeof body !== 'object' || body === null) return first;
  const branches = (first as z.core.$ZodIssueInvalidUnion).errors.filter((b) => b.length > 0 && b.every((i) => i.code !== 'unrecognized_keys'));
  if (branches.length === 1) return branches[0]![0]!;
  return first;
}

function answer(reply: FastifyReply, r: ControlResult & Record<string, unknown>): FastifyReply | ControlResult {
  if (r.ok) return r;
  const status = r.code === 'not-found' ? 404 : r.code === 'bad-request' ? 400 : 409;
  return sendError(reply, status, r.code === 'unavailable' ? 'conflict' : r.code, r.reason);
}

/** The control routes as a fastify plugin (the guard hooks and the error handler are the parent's). */
export function controlRoutes(api: NodeApi): (app: FastifyInstance) => Promise<void> {
  return async (app) => registerControlRoutes(app, api);
}

function registerControlRoutes(app: FastifyInstance, api: NodeApi): void {
  const control = { config: { control: true } };
  const noBody = (b: unknown): void => void parseBody(empty, b);

  app.post('/mining/start', control, async (req, reply) => (noBody(req.body), answer(reply, await api.startMining())));
  app.post('/mining/stop', control, async (req, reply) => (noBody(req.body), answer(reply, await api.stopMining())));
  app.post('/peers/connect', control, async (req, reply) => {
    const b = parseBody(connectBody, req.body);
    return answer(reply, await api.connectPeer(b.host, b.port));
  });
  app.post('/peers/connect-tracker', control, async (req, reply) => (noBody(req.body), answer(reply, await api.connectTrackerPeers())));
  app.post('/peers/disconnect', control, async (req, reply) => answer(reply, await api.disconnectPeer(parseBody(disconnectBody, req.body).nodeId)));
  app.post('/peers/ban', control, async (req, reply) => {
    const b = parseBody(banBody, req.body);
    const target = 'nodeId' in b ? { nodeId: b.nodeId } : { host: b.host };
    return answer(reply, await api.ban(target, b.seconds ?? DEFAULT_BAN_SECONDS));
  });
  app.post('/peers/unban', control, async (req, reply) => answer(reply, await api.unban(parseBody(banTarget, req.body))));
  app.post('/wallet/send', control, async (req, reply) => {
    const b = parseBody(sendBody, req.body);
    const r = await api.sendTransfer('random' in b ? { random: true } : { recipient: b.recipient, amount: b.amount, fee: b.fee });
    if (r.accepted) return r;
    return reply.code(rejectStatus(r.code)).send({ error: { code: r.code, reason: r.reason }, ...(r.txid ? { txid: r.txid } : {}), ...(r.tx ? { tx: r.tx } : {}) });
  });
  app.post('/blocks', control, async (req, reply) => {
    const r = await api.submitBlock(req.body);
    switch (r.status) {
      case 'connected':
      case 'reorg':
      case 'side-branch':
      case 'duplicate':
      case 'orphan':
        return r;
      case 'malformed':
        return sendError(reply, 400, 'bad-request', `block: ${r.reason}`);
      case 'invalid':
        return reply.code(400).send({ error: { code: r.code, reason: r.reason }, hash: r.hash });
    }
  });
  app.post('/node/stop', control, async (req, reply) => (noBody(req.body), answer(reply, await api.stopNode())));
}
