import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Test } from 'tap';
import { startHttpApi, type HttpApi } from '../../src/api/http.js';
import { loadOrCreateApiToken } from '../../src/node/api-token.js';
import { nodeConfigSchema, type NodeConfigInput } from '../../src/config/schema.js';
import { startNode, type RunningNode } from '../../src/node/node.js';

/** A regtest peer with its HTTP API and dashboard on a free port, the token from its data folder; all stopped in teardown. */
export interface DashboardPeer {
  node: RunningNode;
  http: HttpApi;
  token: string;
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** `Cookie` header carrying the token, as a browser sends it after opening the printed URL. */
  cookie: string;
  dataDir: string;
}

export async function startDashboardPeer(t: Test, opts: { nodeId: string; overrides?: Partial<NodeConfigInput> }): Promise<DashboardPeer> {
  const dataDir = mkdtempSync(join(tmpdir(), `cheesechain-dash-${opts.nodeId}-`));
  const config = nodeConfigSchema.parse({
    network: 'regtest',
    dataDir,
    nodeId: opts.nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    api: { enabled: true, port: 0 },
    mining: { enabled: false, workers: 1 },
    log: { level: 'silent' },
    ...opts.overrides,
  });
  const logger = pino({ level: process.env.CHEESECHAIN_TEST_LOG ?? 'silent' }).child({ node: opts.nodeId });
  const node = await startNode(config, { logger });
  const token = loadOrCreateApiToken(dataDir);
  const http = await startHttpApi(node.api, { port: 0, logger, token, events: node.bus });
  t.teardown(async () => {
    await http.close();
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { node, http, token, base: http.url, cookie: `cheesechain-token-${http.port}=${token}`, dataDir };
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** fetch with a JSON body (when given), never following redirects. */
export async function request(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    redirect: 'manual',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** A reader of `GET /events`: `next` resolves with the data of the next event of a type that satisfies `predicate`. */
export interface EventReader {
  next(type: string, predicate?: (data: any) => boolean): Promise<any>;
  close(): void;
}

export async function openEvents(base: string, headers: Record<string, string> = {}): Promise<EventReader> {
  const ac = new AbortController();
  const res = await fetch(`${base}/events`, { headers, signal: ac.signal });
  if (res.status !== 200 || !res.body) throw new Error(`GET /events answered ${res.status}`);
  const waiters: Array<{ type: string; predicate: (d: any) => boolean; resolve: (d: any) => void }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!type || data === undefined) continue;
          const parsed = JSON.parse(data);
          const i = waiters.findIndex((w) => w.type === type && w.predicate(parsed));
          if (i >= 0) waiters.splice(i, 1)[0]!.resolve(parsed);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    next: (type, predicate = () => true) => new Promise((resolve) => waiters.push({ type, predicate, resolve })),
    close: () => ac.abort(),
  };
}

/** A GET through node:http, which (unlike fetch) sends the `Host` header it is given. */
export function getWithHost(base: string, path: string, host: string): Promise<{ status: number; body: any }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: Number(u.port), path, headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}
