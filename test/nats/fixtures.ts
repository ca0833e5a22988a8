/**
 * Shared pieces of the NATS tests: a regtest node config, a {@link StepMiner}
 * that solves a template only when the test says so (regtest difficulty:
 * about two hashes), a pino logger that records into memory, and a
 * subscription that awaits matching messages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NatsConnection, Subscription } from 'nats';
import { pino, type Logger } from 'pino';
import { nodeConfigSchema, type NodeConfig, type NodeConfigInput } from '../../src/config/schema.js';
import { sha256d } from '../../src/core/hash.js';
import { hashMeetsTarget } from '../../src/core/pow.js';
import type { Miner, MiningSolution, MiningWork } from '../../src/mining/types.js';

/** Longest wait for an expected message or log line in these tests, ms. */
export const WAIT_MS = 15_000;

/** A temporary folder removed by `cleanup`. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cheesechain-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A regtest peer config: ephemeral port, no HTTP API, the given NATS URL and mining settings. */
export function regtestConfig(dataDir: string, nodeId: string, natsUrl: string | undefined, extra: Partial<NodeConfigInput> = {}): NodeConfig {
  return nodeConfigSchema.parse({
    network: 'regtest',
    dataDir,
    nodeId,
    listen: { host: '127.0.0.1', port: 0 },
    api: { enabled: false },
    mining: { enabled: false, workers: 1 },
    ...(natsUrl ? { nats: { url: natsUrl } } : {}),
    log: { level: 'debug' },
    ...extra,
  });
}

/** Solves a header by brute force (meant for regtest targets). */
export function solve(work: MiningWork): MiningSolution {
  const header = Uint8Array.from(work.header);
  const view = new DataView(header.buffer);
  for (let nonce = 0; ; nonce++) {
    view.setUint32(76, nonce, true);
    if (hashMeetsTarget(sha256d(header), work.target)) return { header, hashes: nonce + 1 };
  }
}

/** A {@link Miner} that holds each template until {@link StepMiner.step} solves it. */
export class StepMiner implements Miner {
  private pending: { work: MiningWork; resolve: (s: MiningSolution | null) => void } | undefined;
  private waiters: Array<() => void> = [];
  /** Templates received so far. */
  templates = 0;

  mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null> {
    return new Promise((resolve) => {
      const entry = { work, resolve };
      this.pending = entry;
      this.templates++;
      signal.addEventListener('abort', () => {
        if (this.pending === entry) this.pending = undefined;
        resolve(null);
      });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Solves the current template (waiting for one if needed). */
  async step(): Promise<void> {
    while (!this.pending) await new Promise<void>((r) => this.waiters.push(r));
    const { work, resolve } = this.pending;
    this.pending = undefined;
    resolve(solve(work));
  }

  /** Resolves when a template newer than the `count`-th arrives (the miner actor refreshes templates on mempool changes). */
  async newTemplate(count: number): Promise<void> {
    while (this.templates <= count || !this.pending) await new Promise<void>((r) => this.waiters.push(r));
  }

  hashRate(): number {
    return 0;
  }

  async close(): Promise<void> {
    this.pending?.resolve(null);
    this.pending = undefined;
  }
}

/** A log record as pino writes it. */
export interface LogRecord {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A pino logger that keeps every record in memory, with a way to await one. */
export function memoryLogger(level = 'debug'): {
  logger: Logger;
  records: LogRecord[];
  waitFor: (msg: string, timeoutMs?: number) => Promise<LogRecord>;
  waitUntil: (pred: (records: LogRecord[]) => boolean, what: string, timeoutMs?: number) => Promise<void>;
} {
  const records: LogRecord[] = [];
  const waiters: Array<{ msg: string; resolve: (r: LogRecord) => void }> = [];
  const checks: Array<{ pred: (records: LogRecord[]) => boolean; resolve: () => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        const rec = JSON.parse(line) as LogRecord;
        records.push(rec);
        for (const w of [...waiters]) {
          if (w.msg === rec.msg) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(rec);
          }
        }
        for (const c of [...checks]) {
          if (c.pred(records)) {
            checks.splice(checks.indexOf(c), 1);
            c.resolve();
          }
        }
      }
      cb();
    },
  });
  const logger = pino({ level }, stream);
  const waitFor = (msg: string, timeoutMs = WAIT_MS) => {
    const seen = records.find((r) => r.msg === msg);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise<LogRecord>((resolve) => waiters.push({ msg, resolve })), timeoutMs, `log "${msg}"`);
  };
  const waitUntil = (pred: (records: LogRecord[]) => boolean, what: string, timeoutMs = WAIT_MS) => {
    if (pred(records)) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => checks.push({ pred, resolve })), timeoutMs, what);
  };
  return { logger, records, waitFor, waitUntil };
}

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** A received message: subject and parsed JSON. */
export interface Received {
  subject: string;
  json: any;
}

/** Subscribes to `subject` and keeps every message; `next` awaits the first (new or already received) one that matches. */
export function collect(nc: NatsConnection, subject: string): { sub: Subscription; all: Received[]; next: (pred: (r: Received) => boolean, what: string, timeoutMs?: number) => Promise<Received> } {
  const all: Received[] = [];
  const waiters: Array<{ pred: (r: Received) => boolean; resolve: (r: Received) => void }> = [];
  const sub = nc.subscribe(subject, {
    callback: (err, m) => {
      if (err) return;
      const r = { subject: m.subject, json: JSON.parse(new TextDecoder().decode(m.data)) };
      all.push(r);
      for (const w of [...waiters]) {
        if (w.pred(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    },
  });
  const next = (pred: (r: Received) => boolean, what: string, timeoutMs = WAIT_MS) => {
    const seen = all.find(pred);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise<Received>((resolve) => waiters.push({ pred, resolve })), timeoutMs, what);
  };
  return { sub, all, next };
}
