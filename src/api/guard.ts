import type { FastifyRequest } from 'fastify';
import { tokenMatches } from '../node/api-token.js';

/*
 * Who may do what through the HTTP API. Three checks, in this order:
 *  1. the Host header names this server (a DNS-rebinding page has the
 *     attacker's host name there) — else 403;
 *  2. a request that changes something does not come from another site or
 *     another origin (Sec-Fetch-Site, Origin) — else 403;
 *  3. a control action carries the token (cookie, `Authorization: Bearer`) — else 401.
 * Reads need only the first check: they are open on 127.0.0.1.
 */

/** Methods that never change anything, so a cross-site request of them is harmless (its answer is unreadable without CORS). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** A request refused by a guard: status, the error code of the body, and a message for people. */
export interface GuardRefusal {
  status: 401 | 403;
  code: 'forbidden-host' | 'cross-site' | 'unauthorized';
  reason: string;
}

/**
 * The `Host` values this server answers: `name:port` for the loopback names,
 * the bound host (unless it is a wildcard) and `extraHosts`, each also without
 * the port when it is 80.
 */
export function allowedHosts(boundHost: string, port: number, extraHosts: readonly string[] = []): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (boundHost !== '0.0.0.0' && boundHost !== '::') names.add(boundHost.includes(':') ? `[${boundHost}]` : boundHost);
  for (const h of extraHosts) names.add(h.toLowerCase());
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

/** Check 1: the Host header. */
export function checkHost(req: FastifyRequest, hosts: ReadonlySet<string>): GuardRefusal | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  if (hosts.has(host)) return undefined;
  return {
    status: 403,
    code: 'forbidden-host',
    reason: `Host ${JSON.stringify(host)} is not this API (expected one of ${[...hosts].join(', ')}); add it to api.allowedHosts to serve it`,
  };
}

/** Check 2: a state-changing request must come from this origin (or from no browser page at all, like curl). */
export function checkSameOrigin(req: FastifyRequest): GuardRefusal | undefined {
  if (SAFE_METHODS.has(req.method)) return undefined;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, code: 'cross-site', reason: `a ${site} request may not change this peer (Sec-Fetch-Site: ${site}); use the dashboard at this address` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
    return { status: 403, code: 'cross-site', reason: `requests from ${JSON.stringify(origin)} may not change this peer; use the dashboard at http://${req.headers.host ?? ''}/` };
  }
  return undefined;
}

/** The token a request presents: `Authorization: Bearer …` first, else the cookie. */
export function presentedToken(req: FastifyRequest, cookieName: string): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m?.[1];
  }
  return req.cookies?.[cookieName];
}

/** Check 3: the token of a control action. */
export function checkToken(req: FastifyRequest, token: string, cookieName: string, tokenHint: string): GuardRefusal | undefined {
  const presented = presentedToken(req, cookieName);
  if (tokenMatches(presented, token)) return undefined;
  return {
    status: 401,
    code: 'unauthorized',
    reason:
      presented === undefined
        ? `this action needs the API token: open the dashboard URL printed at start (…/?token=…) or send Authorization: Bearer <token> with the token of ${tokenHint}`
        : `wrong API token: use the one in ${tokenHint} (open the dashboard URL printed at start again)`,
  };
}

/** Name of the cookie holding the token. Cookies ignore ports, so it carries the port: two peers on one host keep apart. */
export function tokenCookieName(port: number): string {
  return `cheesechain-token-${port}`;
}
