import type { Socket } from 'node:net';
import type { Block } from '../core/block.js';
import { toHex } from '../core/encoding.js';
import { hashToHex } from '../core/hash.js';
import { NODE_ID_PATTERN } from './limits.js';

/*
 * The peer side of source document 001 on a peer's own listening port (the
 * port it gives the tracker in JOIN_CHAIN, where seed-001 peers connect).
 * One port speaks both seed protocols: a client whose first bytes are a
 * python-p2p-network id line (`<id>:<digits>`, document 002; Python dialers
 * always send first) gets the peer wire protocol; a client that sends
 * anything else, or nothing for SEED001_GREETING_DELAY_MS, gets document
 * 001: the greeting `Connection to peer [PID]` and the text commands below.
 * docs/seed001.md is the byte-by-byte description.
 *
 * Framing (001 has none): a request is one line ended by LF or CRLF, or,
 * since 001's Python samples call `s.send(request.encode())` and nothing
 * else, the bytes received once the connection has been quiet for
 * SEED001_FLUSH_MS. Every reply is one line ended by LF.
 */

/** @default 300 — a client silent this long after connecting is greeted as a seed-001 peer, ms. */
export const SEED001_GREETING_DELAY_MS = 300;
/** How long a request without line end must be followed by silence to count as complete, ms (the tracker's IDLE_FLUSH_MS). */
export const SEED001_FLUSH_MS = 50;
/** @default 120000 — a seed-001 connection with no request for this long is closed (subscribers excepted), ms. */
export const SEED001_IDLE_TIMEOUT_MS = 120_000;
/** Longest request line, bytes (a SHARE_TRANSACTION of a signed transfer is about 400). Longer gets `ERROR LINE_TOO_LONG` and a close; the rest is never buffered. */
export const SEED001_MAX_LINE_BYTES = 16_384;
/** @default 1000 — most cheeses one CHAIN reply lists: the most recent ones when the chain is longer (config `seed001.maxChainCheeses`). */
export const SEED001_MAX_CHAIN_CHEESES = 1_000;
/** Most transactions one TR reply lists (the peer protocol's MAX_PUSH_TRANSACTIONS). */
export const SEED001_MAX_OPEN_TRANSACTIONS = 5_000;
/** Most seed-001 connections served at once; more are greeted with `ERROR BUSY` and closed. */
export const SEED001_MAX_SESSIONS = 64;
/** Greeting of document 001 ("CONNECT TO PEER"). */
export const SEED001_GREETING_PREFIX = 'Connection to peer';
/** Ends every reply line. */
export const SEED001_TERMINATOR = '\n';

/** The commands, the two of document 001 and those that fill its empty sections. */
export const SEED001_COMMANDS = ['GET_CHAIN', 'GET_OPEN_TRANSACTIONS', 'SUBSCRIBE_CHEESES', 'SHARE_CHEESE', 'SHARE_TRANSACTION'] as const;
export type Seed001Command = (typeof SEED001_COMMANDS)[number];

/** Codes of the error lines `ERROR <CODE> <message>`. */
export type Seed001ErrorCode = 'UNKNOWN_COMMAND' | 'MALFORMED' | 'LINE_TOO_LONG' | 'IDLE_TIMEOUT' | 'BUSY' | 'UNAVAILABLE';

/** A transaction as document 001 shows it; amounts in base units, the coinbase's sender is "". */
export interface Seed001Transaction {
  sender: string;
  recipient: string;
  amount: number;
}

/** A block as document 001's "cheese", plus its own hash as `smell`. */
export interface Seed001Cheese {
  sequence_number: number;
  parent_smell: string;
  transactions: Seed001Transaction[];
  nonce: number;
  timestamp: number;
  smell: string;
}

/** A block of the main chain as a cheese: `sequence_number` = height, `parent_smell` = previous hash ("" at height 0), `smell` = its hash. */
export function cheeseFromBlock(block: Block, height: number, hash: string): Seed001Cheese {
  return {
    sequence_number: height,
    parent_smell: height === 0 ? '' : hashToHex(block.header.prevHash),
    transactions: block.txs.map((tx) => ({ sender: tx.type === 'transfer' ? toHex(tx.sender) : '', recipient: toHex(tx.recipient), amount: Number(tx.amount) })),
    nonce: block.header.nonce,
    timestamp: block.header.time,
    smell: hash,
  };
}

/** What a seed-001 session reads from and hands to the node. */
export interface Seed001Source {
  /** The PID the tracker gave this peer, or its node id when it has none. */
  peerId(): string;
  /** Height of the main chain's tip. */
  tipHeight(): number;
  /** The main-chain block at `height` as a cheese, undefined above the tip. */
  cheeseAt(height: number): Promise<Seed001Cheese | undefined>;
  /** Up to `limit` transactions of the mempool. */
  openTransactions(limit: number): Promise<Seed001Transaction[]>;
  /** Submits a signed transfer (the JSON of the peer protocol) to the mempool. */
  submitTransaction(json: unknown): Promise<{ accepted: true; txid: string } | { accepted: false; code: string; reason: string }>;
  /** Calls `listener` with every block connected to the main chain, until the returned function is called. */
  subscribe(listener: (cheese: Seed001Cheese) => void): () => void;
}

/** How the first bytes of an inbound connection are classified. */
export type SniffResult = 'p2p' | 'seed001' | 'undecided';

const ID_LINE_START = /^[A-Za-z0-9_-]{1,128}:[0-9]/;
const ID_PREFIX = /^[A-Za-z0-9_-]{0,128}:?$/;

/**
 * Classifies the first bytes of an inbound connection: `p2p` when they start
 * like a python-p2p-network id line (`<id>:<digit>`), `undecided` while they
 * could still become one (`abc`, `abc:`), `seed001` otherwise.
 */
export function sniffFirstBytes(buf: Buffer): SniffResult {
  const head = buf.subarray(0, 140).toString('latin1');
  if (ID_LINE_START.test(head)) return 'p2p';
  if (ID_PREFIX.test(head) && NODE_ID_PATTERN.test(head.replace(/:$/, '') || 'x')) return 'undecided';
  return 'seed001';
}

/**
 * Waits for the first bytes of an inbound socket and decides its protocol:
 * `p2p` as soon as they start an id line, `seed001` when they cannot, or when
 * nothing (or only an unfinished id) arrived within `waitMs`. The bytes read
 * are returned to be replayed to the chosen protocol; the socket is paused
 * until that protocol resumes it (`WireConnection` and the seed-001 session do).
 */
export function sniffProtocol(socket: Socket, waitMs = SEED001_GREETING_DELAY_MS): Promise<{ protocol: 'p2p' | 'seed001' | 'closed'; initialBytes: Buffer }> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (protocol: 'p2p' | 'seed001' | 'closed'): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
      // Hold further bytes until the chosen protocol attaches its listener and resumes the socket.
      socket.pause();
      resolve({ protocol, initialBytes: buf });
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = sniffFirstBytes(buf);
      if (r !== 'undecided') done(r);
    };
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => done('seed001'), waitMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onClose);
  });
}

/** Options of a {@link Seed001Server}. */
export interface Seed001ServerInit {
  source: Seed001Source;
  /** @default SEED001_MAX_CHAIN_CHEESES (1000) */
  maxChainCheeses?: number;
  /** @default SEED001_IDLE_TIMEOUT_MS (120000) */
  idleTimeoutMs?: number;
  /** @default SEED001_MAX_SESSIONS (64) */
  maxSessions?: number;
  /** Called once per session when it ends (for logs and tests). */
  onSessionEnd?: (info: { remote: string; requests: number }) => void;
}

/**
 * Serves document 001's peer commands on sockets the listener hands over
 * (after {@link sniffProtocol} said `seed001`). Never bans: bad input gets an
 * error line, over-long lines and silence a close.
 */
export class Seed001Server {
  private readonly sessions = new Set<Socket>();
  private readonly source: Seed001Source;
  private readonly maxChain: number;
  private readonly idleMs: number;
  private readonly maxSessions: number;

  constructor(private readonly init: Seed001ServerInit) {
    this.source = init.source;
    this.maxChain = init.maxChainCheeses ?? SEED001_MAX_CHAIN_CHEESES;
    this.idleMs = init.idleTimeoutMs ?? SEED001_IDLE_TIMEOUT_MS;
    this.maxSessions = init.maxSessions ?? SEED001_MAX_SESSIONS;
    if (!Number.isInteger(this.maxChain) || this.maxChain < 1) throw new RangeError('options.maxChainCheeses must be a positive integer');
  }

  /** Seed-001 connections open right now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Serves one socket; `initialBytes` are what the sniffer read. */
  accept(socket: Socket, initialBytes: Buffer): void {
    if (this.sessions.size >= this.maxSessions) {
      socket.end(`ERROR BUSY at most ${this.maxSessions} seed-001 connections at once${SEED001_TERMINATOR}`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.sessions.add(socket);
    new Seed001Session(socket, this.source, this.maxChain, this.idleMs, (requests) => {
      this.sessions.delete(socket);
      this.init.onSessionEnd?.({ remote: `${socket.remoteAddress}:${socket.remotePort}`, requests });
    }).start(initialBytes);
  }

  /** Closes every seed-001 connection. */
  close(): void {
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }
}

/** The result of parsing one request line. */
export type Seed001Request = { ok: true; command: Seed001Command; argument: string } | { ok: false; code: Seed001ErrorCode; message: string };

/** Parses `COMMAND:ARGUMENT` (the argument is a PID for the GET and SUBSCRIBE commands, JSON for the SHARE ones). */
export function parseSeed001Request(line: string): Seed001Request {
  const colon = line.indexOf(':');
  const word = (colon === -1 ? line : line.slice(0, colon)).trim();
  if (!(SEED001_COMMANDS as readonly string[]).includes(word)) {
    return { ok: false, code: 'UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(word.slice(0, 40))}; commands: ${SEED001_COMMANDS.join(', ')}` };
  }
  const argument = colon === -1 ? '' : line.slice(colon + 1).trim();
  if (argument === '') return { ok: false, code: 'MALFORMED', message: `${word} needs an argument (${word}:${word.startsWith('SHARE') ? 'JSON' : 'PEER_ID'})` };
  if (!word.startsWith('SHARE') && !/^[\x21-\x7e]{1,200}$/.test(argument)) return { ok: false, code: 'MALFORMED', message: 'PEER_ID must be 1 to 200 printable ASCII characters' };
  return { ok: true, command: word as Seed001Command, argument };
}

class Seed001Session {
  private buf: Buffer = Buffer.alloc(0);
  private flushTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private queue: Promise<void> = Promise.resolve();
  private requests = 0;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly source: Seed001Source,
    private readonly maxChain: number,
    private readonly idleMs: number,
    private readonly onEnd: (requests: number) => void,
  ) {}

  start(initial: Buffer): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (c: Buffer) => this.onData(c));
    s.on('error', () => s.destroy());
    s.on('close', () => this.finish());
    this.line(`${SEED001_GREETING_PREFIX} [${this.source.peerId()}]`);
    this.touch();
    if (initial.length > 0) this.onData(initial);
    s.resume();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.idleTimer);
    this.unsubscribe?.();
    this.onEnd(this.requests);
  }

  private line(text: string): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(text + SEED001_TERMINATOR);
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.unsubscribe) return; // a subscriber may stay quiet
    this.idleTimer = setTimeout(() => this.close('IDLE_TIMEOUT', `no request within ${this.idleMs} ms`), this.idleMs);
    this.idleTimer.unref();
  }

  private close(code: Seed001ErrorCode, message: string): void {
    this.line(`ERROR ${code} ${message}`);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onData(chunk: Buffer): void {
    if (this.ended || this.socket.writableEnded) return;
    this.touch();
    clearTimeout(this.flushTimer);
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(0x0a, pos);
      const end = lf === -1 ? chunk.length : lf;
      if (this.buf.length + (end - pos) > SEED001_MAX_LINE_BYTES) {
        this.buf = Buffer.alloc(0);
        this.close('LINE_TOO_LONG', `a request is at most ${SEED001_MAX_LINE_BYTES} bytes`);
        return;
      }
      this.buf = Buffer.concat([this.buf, chunk.subarray(pos, end)]);
      if (lf === -1) break;
      this.request();
      pos = lf + 1;
    }
    if (this.buf.length > 0) {
      this.flushTimer = setTimeout(() => this.request(), SEED001_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Takes the buffered line as one request; requests are answered in order. */
  private request(): void {
    const text = this.buf.toString('utf8').replace(/\r$/, '');
    this.buf = Buffer.alloc(0);
    if (text.trim() === '') return;
    this.requests++;
    this.queue = this.queue.then(() => this.answer(text)).catch((err: Error) => void this.line(`ERROR UNAVAILABLE ${err.message}`));
  }

  private async answer(text: string): Promise<void> {
    const req = parseSeed001Request(text);
    if (!req.ok) {
      this.line(`ERROR ${req.code} ${req.message}`);
      return;
    }
    switch (req.command) {
      case 'GET_CHAIN':
        return this.sendChain();
      case 'GET_OPEN_TRANSACTIONS':
        this.line(`TR${JSON.stringify(await this.source.openTransactions(SEED001_MAX_OPEN_TRANSACTIONS))}`);
        return;
      case 'SUBSCRIBE_CHEESES':
        if (!this.unsubscribe) {
          clearTimeout(this.idleTimer);
          this.unsubscribe = this.source.subscribe((cheese) => void this.line(`CHEESE${JSON.stringify(cheese)}`));
        }
        this.line('SUBSCRIBED');
        return;
      case 'SHARE_CHEESE':
        return this.shareCheese(req.argument);
      case 'SHARE_TRANSACTION':
        return this.shareTransaction(req.argument);
      default:
        return assertNever(req.command);
    }
  }

  /** `CHAIN[` cheeses `]`, the most recent `maxChain`, written as they are read (with backpressure). */
  private async sendChain(): Promise<void> {
    const tip = this.source.tipHeight();
    const from = Math.max(0, tip - this.maxChain + 1);
    this.socket.write('CHAIN[');
    for (let h = from; h <= tip; h++) {
      const cheese = await this.source.cheeseAt(h);
      if (!cheese || this.socket.destroyed) break;
      if (!this.socket.write((h === from ? '' : ', ') + JSON.stringify(cheese))) await new Promise((r) => this.socket.once('drain', r));
    }
    this.line(']');
  }

  /**
   * A shared cheese is ACCEPTED when it is a block of our main chain (its
   * `smell` at its `sequence_number`): a seed-001 cheese carries no header
   * and no proof of work in this chain's sense, so a new block can only come
   * through the peer protocol (BLOCK) or mining, never through seed 001.
   */
  private async shareCheese(argument: string): Promise<void> {
    let cheese: unknown;
    try {
      cheese = JSON.parse(argument);
    } catch {
      this.line('REFUSED malformed the cheese is not JSON');
      return;
    }
    const c = cheese as Partial<Seed001Cheese>;
    if (typeof c !== 'object' || c === null || typeof c.smell !== 'string' || !Number.isSafeInteger(c.sequence_number)) {
      this.line('REFUSED no-proof-of-work a seed-001 cheese without smell and sequence_number cannot be checked');
      return;
    }
    const ours = await this.source.cheeseAt(c.sequence_number!);
    if (ours && ours.smell === c.smell) this.line(`ACCEPTED known ${c.smell}`);
    else this.line('REFUSED no-proof-of-work new blocks enter through the peer protocol (BLOCK) or mining, not seed 001');
  }

  private async shareTransaction(argument: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(argument);
    } catch {
      this.line('REFUSED malformed the transaction is not JSON');
      return;
    }
    const t = json as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || t['signature'] === undefined) {
      this.line('REFUSED unsigned a transaction needs sender, recipient, amount, fee, nonce and signature (docs/seed001.md)');
      return;
    }
    const r = await this.source.submitTransaction({ type: 'transfer', ...t });
    this.line(r.accepted ? `ACCEPTED ${r.txid}` : `REFUSED ${r.code} ${r.reason}`);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${String(x)}`);
}
