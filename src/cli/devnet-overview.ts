import { fastify, LogController } from 'fastify';
import { allowedHosts, checkHost } from '../api/guard.js';
import { newApiToken, tokenMatches } from '../node/api-token.js';

/** @default 18300 — port of the devnet overview page (below the peers' 18330…). */
export const DEFAULT_OVERVIEW_PORT = 18300;

/** One peer of the overview: its name and its dashboard URL with the token. */
export interface OverviewPeer {
  name: string;
  dashboardUrl: string;
}

/** A running overview server. */
export interface DevnetOverview {
  /** The page with its own token, e.g. `http://127.0.0.1:18300/?token=…`. */
  url: string;
  close(): Promise<void>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page of document 003's three windows side by side: one frame per
 * peer's dashboard. The frames' addresses carry the peers' tokens, so the
 * page itself is served only with a token of its own (made for this run)
 * and only under a loopback `Host`.
 */
export function overviewHtml(peers: readonly OverviewPeer[]): string {
  const frames = peers
    .map((p) => `<section><h2>${escapeHtml(p.name)}</h2><iframe title="${escapeHtml(p.name)}" src="${escapeHtml(p.dashboardUrl)}"></iframe></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cheesechain devnet</title>
<style>
body{margin:0;font-family:system-ui,sans-serif;background:#fffaf0}
h1{font-size:18px;margin:8px 12px}
main{display:grid;grid-template-columns:repeat(${peers.length},1fr);gap:8px;padding:0 8px 8px;height:calc(100vh - 48px)}
section{display:flex;flex-direction:column;min-width:0}
h2{font-size:14px;margin:4px 0}
iframe{flex:1;width:100%;border:1px solid #eadfc8;border-radius:6px;background:#fff}
</style></head>
<body><h1>cheesechain devnet — the tracker's ${peers.length} peers side by side</h1><main>
${frames}
</main></body></html>
`;
}

/**
 * Serves {@link overviewHtml} on `host:port` (0 = any free port).
 * @throws the listen error when the port is taken.
 */
export async function startDevnetOverview(peers: readonly OverviewPeer[], options: { host?: string; port: number }): Promise<DevnetOverview> {
  const host = options.host ?? '127.0.0.1';
  const token = newApiToken();
  const html = overviewHtml(peers);
  const app = fastify({ logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true });
  let hosts = new Set<string>();
  app.addHook('onRequest', async (req, reply) => {
    const refused = checkHost(req, hosts);
    if (refused) return reply.code(refused.status).send({ error: { code: refused.code, reason: refused.reason } });
  });
  app.get<{ Querystring: { token?: string } }>('/', async (req, reply) => {
    if (!tokenMatches(req.query.token, token)) {
      return reply.code(401).send({ error: { code: 'unauthorized', reason: 'open the overview URL printed by cheesechain devnet (…/?token=…)' } });
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-src http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'")
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });
  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  hosts = allowedHosts(host, port);
  return { url: `http://${host}:${port}/?token=${token}`, close: () => app.close() };
}
