import { fastify, LogController, type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { isPolicyOnly, type RejectCode } from '../core/reject.js';
import type { NodeApi } from '../node/node-api.js';

/*
 * The local HTTP/JSON API of a peer (docs/api.md). It only translates HTTP to
 * the NodeApi facade: it checks parameters, maps results to status codes and
 * never throws a stack trace at a client. It has no authentication, so it
 * listens on loopback unless told otherwise.
 */

/** @default '127.0.0.1' — interface the API listens on. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
/**
 * Largest request body, bytes. A transfer in JSON is about 400 bytes; 64 KiB
 * leaves room for whitespace and refuses anything that is not a transaction.
 */
export const MAX_HTTP_BODY_BYTES = 64 * 1024;
/** Time allowed for a whole request, ms (slow clients are cut off). */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;

/** Codes of API errors that are not transaction rejections. */
export type HttpErrorCode = 'bad-request' | 'not-found' | 'payload-too-large' | 'unsupported-media-type' | 'unavailable' | 'internal';

/**
 * Body of every error answer. `code` is an {@link HttpErrorCode}, or for a
 * refused transaction (`POST /tx`) the {@link RejectCode} of the validation.
 */
export interface HttpErrorBody {
  error: { code: HttpErrorCode | RejectCode; reason: string };
  /** The refused transaction's id, when it could be computed. */
  txid?: string;
}

export interface HttpApiOptions {
  /** @default {@link DEFAULT_HTTP_HOST} */
  host?: string;
  /** TCP port; 0 picks a free one (read it from the result). */
  port: number;
  logger: Logger;
}

/** A listening API server. */
export interface HttpApi {
  /** The port actually bound (useful with port 0). */
  port: number;
  host: string;
  /** Base URL, e.g. `http://127.0.0.1:18331`. */
  url: string;
  /** Stops accepting and closes open connections. Idempotent. */
  close(): Promise<void>;
}

const HEX64_RE = /^[0-9a-fA-F]{64}$/;
const HEIGHT_RE = /^(0|[1-9][0-9]{0,15})$/;

/** A request the client got wrong; answered with `status` and never logged as an error. */
class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function hex64(value: string, what: string): string {
  if (!HEX64_RE.test(value)) throw new HttpError(400, 'bad-request', `${what} must be 64 hex characters, got ${JSON.stringify(value.slice(0, 80))}`);
  return value.toLowerCase();
}

function height(value: string): number {
  const n = HEIGHT_RE.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new HttpError(400, 'bad-request', `height must be a non-negative integer, got ${JSON.stringify(value.slice(0, 80))}`);
  return n;
}

function sendError(reply: FastifyReply, status: number, code: HttpErrorBody['error']['code'], reason: string, txid?: string): FastifyReply {
  const body: HttpErrorBody = { error: { code, reason } };
  if (txid !== undefined) body.txid = txid;
  return reply.code(status).send(body);
}

/**
 * HTTP status of a refused transaction: 409 (conflict with this peer's state
 * or policy: nonce, balance, fee, duplicates, a full mempool) when the code is
 * policy-only, else 400 (the transaction itself is invalid). One rule,
 * {@link isPolicyOnly}, decides both this and whether a peer is punished.
 */
export function rejectStatus(code: RejectCode): 400 | 409 {
  return isPolicyOnly(code, 'transaction') ? 409 : 400;
}

/**
 * Starts the API: `GET /info`, `GET /blocks/:hash`, `GET /blocks/height/:height`,
 * `GET /tx/:txid`, `GET /accounts/:key`, `POST /tx`, `GET /peers`
 * (docs/api.md has every route with examples). Errors answer
 * {@link HttpErrorBody}: 400 bad parameter or invalid transaction, 404 unknown
 * block or transaction, 409 transaction refused by state or policy, 413 body
 * over {@link MAX_HTTP_BODY_BYTES}, 415 body not JSON, 503 the node did not
 * answer in time, 500 anything else (logged).
 * @throws when the port cannot be bound (e.g. `EADDRINUSE`).
 */
export async function startHttpApi(api: NodeApi, options: HttpApiOptions): Promise<HttpApi> {
  const host = options.host ?? DEFAULT_HTTP_HOST;
  const log = options.logger.child({ component: 'http' });
  const app = fastify({
    loggerInstance: log,
    // Requests are logged once, at debug level, by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_HTTP_BODY_BYTES,
    requestTimeout: HTTP_REQUEST_TIMEOUT_MS,
    forceCloseConnections: true,
  });

  app.addHook('onResponse', (req, reply, done) => {
    log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
    done();
  });

  // Only JSON bodies: without this, fastify would hand a text/plain body to the handler as a string.
  app.removeContentTypeParser('text/plain');

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not-found', `no route ${req.method} ${req.url.split('?')[0]}; see docs/api.md`));

  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.status, err.code, err.message);
    const fe = err as FastifyError;
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 413, 'payload-too-large', `request body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, 'unsupported-media-type', 'send the body as application/json');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 400, 'bad-request', 'the body is empty; send a transaction as JSON');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(reply, 400, 'bad-request', `the body is not valid JSON: ${fe.message}`);
    }
    if ((err as { code?: string }).code === 'ERR_ASK_TIMEOUT' || (err as { code?: string }).code === 'ERR_ACTOR_STOPPED') {
      log.warn({ err, url: req.url }, 'node did not answer');
      return sendError(reply, 503, 'unavailable', 'the node did not answer in time; try again');
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendError(reply, fe.statusCode, 'bad-request', fe.message);
    }
    log.error({ err, url: req.url }, 'http handler failed');
    return sendError(reply, 500, 'internal', 'internal error (see the node log)');
  });

  app.get('/info', async () => api.info());

  app.get<{ Params: { height: string } }>('/blocks/height/:height', async (req, reply) => {
    const view = await api.blockByHeight(height(req.params.height));
    return view ?? sendError(reply, 404, 'not-found', `no main-chain block at height ${req.params.height}`);
  });

  app.get<{ Params: { hash: string } }>('/blocks/:hash', async (req, reply) => {
    const hash = hex64(req.params.hash, 'block hash');
    const view = await api.blockByHash(hash);
    return view ?? sendError(reply, 404, 'not-found', `unknown block ${hash}`);
  });

  app.get<{ Params: { txid: string } }>('/tx/:txid', async (req, reply) => {
    const txid = hex64(req.params.txid, 'txid');
    const view = await api.transaction(txid);
    return view ?? sendError(reply, 404, 'not-found', `unknown transaction ${txid}`);
  });

  app.get<{ Params: { key: string } }>('/accounts/:key', async (req) => api.account(hex64(req.params.key, 'account key (ed25519 public key)')));

  app.post('/tx', async (req, reply) => {
    const result = await api.submitTransaction(req.body);
    if (result.accepted) return { accepted: true, txid: result.txid };
    return sendError(reply, rejectStatus(result.code), result.code, result.reason, result.txid);
  });

  app.get('/peers', async () => api.peers());

  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host, port }, 'http api listening');
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => (closing ??= app.close()),
  };
}
