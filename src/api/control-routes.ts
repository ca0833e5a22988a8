import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { ControlResult, NodeApi } from '../node/node-api.js';
import { banArgs, banBody, banTargetBody, connectBody, describeBodyError, disconnectBody, emptyBody, parseControlBody, sendBody, transferRequest } from '../node/control-requests.js';
import { HttpError, rejectStatus, sendError } from './errors.js';

/*
 * Control actions (docs/api.md, "Control"): every route here is registered
 * with `config: { control: true }`, so guard.ts refuses it without the API
 * token (401) and from another site (403). Bodies are checked by zod; a bad
 * field is a 400 whose reason names it.
 */

/**
 * Parses a control body with one of the schemas shared with NATS (`src/node/control-requests.ts`).
 * @throws HttpError 400 naming the first bad field (`recipient: must be 64 hex characters`).
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = parseControlBody(schema, body);
  if (r.ok) return r.value;
  throw new HttpError(400, 'bad-request', describeBodyError(r.error));
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
  const noBody = (b: unknown): void => void parseBody(emptyBody, b);

  app.post('/mining/start', control, async (req, reply) => (noBody(req.body), answer(reply, await api.startMining())));
  app.post('/mining/stop', control, async (req, reply) => (noBody(req.body), answer(reply, await api.stopMining())));
  app.post('/peers/connect', control, async (req, reply) => {
    const b = parseBody(connectBody, req.body);
    return answer(reply, await api.connectPeer(b.host, b.port));
  });
  app.post('/peers/connect-tracker', control, async (req, reply) => (noBody(req.body), answer(reply, await api.connectTrackerPeers())));
  app.post('/peers/disconnect', control, async (req, reply) => answer(reply, await api.disconnectPeer(parseBody(disconnectBody, req.body).nodeId)));
  app.post('/peers/ban', control, async (req, reply) => {
    const { target, seconds } = banArgs(parseBody(banBody, req.body));
    return answer(reply, await api.ban(target, seconds));
  });
  app.post('/peers/unban', control, async (req, reply) => answer(reply, await api.unban(parseBody(banTargetBody, req.body))));
  app.post('/wallet/send', control, async (req, reply) => {
    const r = await api.sendTransfer(transferRequest(parseBody(sendBody, req.body)));
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
        return reply.code(rejectStatus(r.code, 'block')).send({ error: { code: r.code, reason: r.reason }, hash: r.hash });
    }
  });
  app.post('/node/stop', control, async (req, reply) => (noBody(req.body), answer(reply, await api.stopNode())));
}
