import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { fastify, LogController, type FastifyError, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { NodeApi } from '../node/node-api.js';
import { controlRoutes } from './control-routes.js';
import { HttpError, rejectStatus, sendError, type HttpErrorBody, type HttpErrorCode } from './errors.js';
import { EventStream, MAX_EVENT_CLIENTS, type NodeEventSource } from './event-stream.js';
import { allowedHosts, checkHost, checkSameOrigin, checkToken, presentedToken, tokenCookieName, type GuardRefusal } from './guard.js';
import { NodeMetrics } from './metrics.js';
import { DEFAULT_CHAIN_PAGE, DEFAULT_MEMPOOL_PAGE } from '../node/control-requests.js';
import { newApiToken, tokenMatches } from '../node/api-token.js';

/*
 * The local HTTP/JSON API of a peer (docs/api.md). It only translates HTTP to
 * the NodeApi facade: it checks parameters, maps results to status codes and
 * never throws a stack trace at a client. It also serves the dashboard (a
 * static page bundled at build time), its event stream and /metrics. Reads
 * are open; control actions need the API token (guard.ts); every request
 * must name this server in its Host header.
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

/** Folder of the bundled dashboard (`npm run build:web` writes it): `dist/web`, beside `dist/src`. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export interface HttpApiOptions {
  /** @default {@link DEFAULT_HTTP_HOST} */
  host?: string;
  /** TCP port; 0 picks a free one (read it from the result). */
  port: number;
  logger: Logger;
  /** The token control actions need (see token.ts). @default a random token nobody knows: control is then closed. */
  token?: string;
  /** Where the token is kept, named in 401 answers. @default 'the api.token file in the data folder' */
  tokenHint?: string;
  /** Host names (with port, as in a `Host` header) served besides the loopback names and the bound host. */
  allowedHosts?: readonly string[];
  /** The node's events: feeds the dashboard's stream (`GET /events`) and the counters of `/metrics`. Without it both are empty. */
  events?: NodeEventSource;
  /** @default {@link DASHBOARD_DIR} */
  dashboardDir?: string;
}

/** A listening API server. */
export interface HttpApi {
  /** The port actually bound (useful with port 0). */
  port: number;
  host: string;
  /** Base URL, e.g. `http://127.0.0.1:18331`. */
  url: string;
  /** The dashboard with the token, e.g. `http://127.0.0.1:18331/?token=…` (print it for the operator only). */
  dashboardUrl: string;
  /** Stops accepting and closes open connections. Idempotent. */
  close(): Promise<void>;
}

const HEX64_RE = /^[0-9a-fA-F]{64}$/;
const HEIGHT_RE = /^(0|[1-9][0-9]{0,15})$/;
export { HttpError, rejectStatus, sendError, type HttpErrorBody, type HttpErrorCode };

export { DEFAULT_CHAIN_PAGE, DEFAULT_MEMPOOL_PAGE };

function hex64(value: string, what: string): string {
  if (!HEX64_RE.test(value)) throw new HttpError(400, 'bad-request', `${what} must be 64 hex characters, got ${JSON.stringify(value.slice(0, 80))}`);
  return value.toLowerCase();
}

function height(value: string, what = 'height'): number {
  const n = HEIGHT_RE.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new HttpError(400, 'bad-request', `${what} must be a non-negative integer, got ${JSON.stringify(value.slice(0, 80))}`);
  return n;
}

/** An optional non-negative integer query parameter. */
function queryInt(value: unknown, what: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new HttpError(400, 'bad-request', `${what} must be given once`);
  return height(value, what);
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
  const token = options.token ?? newApiToken();
  const tokenHint = options.tokenHint ?? 'the api.token file in the data folder';
  const dashboardDir = options.dashboardDir ?? DASHBOARD_DIR;
  // Known once the port is bound (port 0); no request is handled before that.
  let hosts = new Set<string>();
  let cookieName = '';
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

  const refuse = (reply: FastifyReply, r: GuardRefusal): FastifyReply => sendError(reply, r.status, r.code, r.reason);
  // Checks 1 and 2 of guard.ts run before anything else, on every request.
  app.addHook('onRequest', async (req, reply) => {
    const r = checkHost(req, hosts) ?? checkSameOrigin(req);
    if (r) return refuse(reply, r);
  });
  await app.register(fastifyCookie);
  /** Check 3: routes registered with `{ config: { control: true } }` need the token. */
  app.addHook('preHandler', async (req, reply) => {
    if ((req.routeOptions.config as { control?: boolean }).control !== true) return;
    const r = checkToken(req, token, cookieName, tokenHint);
    if (r) return refuse(reply, r);
  });

  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.status, err.reason, err.message);
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

  app.get<{ Querystring: { from?: string; limit?: string } }>('/chain', async (req) => {
    const from = queryInt(req.query.from, 'from');
    const limit = queryInt(req.query.limit, 'limit', DEFAULT_CHAIN_PAGE)!;
    return api.chain(from === undefined ? { limit } : { from, limit });
  });
  app.get<{ Querystring: { limit?: string } }>('/mempool', async (req) => api.mempool(queryInt(req.query.limit, 'limit', DEFAULT_MEMPOOL_PAGE)!));
  app.get<{ Querystring: { refresh?: string } }>('/tracker', async (req) => {
    const refresh = req.query.refresh;
    if (refresh !== undefined && refresh !== 'true' && refresh !== 'false') throw new HttpError(400, 'bad-request', `refresh must be true or false, got ${JSON.stringify(String(refresh).slice(0, 20))}`);
    return api.tracker({ refresh: refresh === 'true' });
  });
  app.get('/bans', async () => api.bans());

  // The dashboard's live feed and the operator's metrics.
  const stream = options.events ? new EventStream(options.events) : undefined;
  const metrics = new NodeMetrics({ api, events: options.events ?? { subscribe: () => () => undefined }, ...(stream ? { stream } : {}) });
  app.get('/events', (req, reply) => {
    if (!stream) return sendError(reply, 404, 'not-found', 'this server has no event source');
    reply.hijack();
    if (!stream.add(reply.raw)) {
      reply.raw.writeHead(503, { 'content-type': 'application/json' });
      reply.raw.end(JSON.stringify({ error: { code: 'unavailable', reason: `${MAX_EVENT_CLIENTS} dashboards are connected already` } }));
    }
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });

  /** Whether this browser holds the token (the page shows control buttons as usable or not). */
  app.get('/auth', async (req) => ({ control: tokenMatches(presentedToken(req, cookieName), token) }));

  // The dashboard. `/?token=…` (the URL printed at start) trades the token for an HTTP-only cookie and
  // redirects to `/`, so the token leaves the address bar and the history.
  const built = existsSync(dashboardDir);
  if (built) await app.register(fastifyStatic, { root: dashboardDir, index: false, wildcard: false, setHeaders: (res) => setPageHeaders(res.raw) });
  app.get<{ Querystring: { token?: string } }>('/', async (req, reply) => {
    const presented = req.query.token;
    if (presented !== undefined) {
      if (!tokenMatches(presented, token)) return sendError(reply, 401, 'unauthorized', `wrong API token in the address: use the one in ${tokenHint} (the URL printed at start)`);
      reply.setCookie(cookieName, token, { httpOnly: true, sameSite: 'strict', path: '/' });
      return reply.redirect('/', 303);
    }
    if (!built) return sendError(reply, 503, 'unavailable', `the dashboard is not built (${dashboardDir} is missing): run npm run build`);
    setPageHeaders(reply.raw);
    return reply.sendFile('index.html');
  });
  await app.register(controlRoutes(api));

  app.addHook('onClose', async () => {
    stream?.close();
    metrics.close();
  });

  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  hosts = allowedHosts(host, port, options.allowedHosts);
  cookieName = tokenCookieName(port);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ host, port }, 'http api listening');
  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    url,
    dashboardUrl: `${host === '0.0.0.0' || host === '::' ? `http://127.0.0.1:${port}` : url}/?token=${token}`,
    close: () => (closing ??= app.close()),
  };
}

/**
 * Headers of the dashboard's files: scripts and styles only from this server
 * (no CDN, no inline script), and framing only by pages of this host (the
 * devnet overview shows three peers side by side).
 */
function setPageHeaders(res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader(
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'self' http://127.0.0.1:* http://localhost:*",
  );
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}

