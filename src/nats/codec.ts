/**
 * Conversions between cheesechain values and the JSON payloads of
 * `subjects.ts`: node events to event messages, request bodies to typed
 * requests (with exact error messages), farm messages both ways. Pure: no IO.
 * Only this module and the NATS actors touch bytes that come from NATS.
 */
import { blockSize } from '../core/block.js';
import { toHex } from '../core/encoding.js';
import { transferFieldsJson } from '../core/transaction.js';
import { hashToHex } from '../core/hash.js';
import { HEADER_BYTES } from '../core/header.js';
import { assertNever } from '../core/reject.js';
import type { NodeEvent } from '../actors/events.js';
import {
  NATS_SCHEMA_VERSION,
  type AnyEventMessage,
  type EventName,
  type EventPayloads,
  type FarmCancel,
  type FarmJob,
  type FarmReport,
  type FarmSolution,
  type FarmWorkMsg,
  type ReplyError,
  type RequestBodies,
  type OpenRequestKind,
  type RequestKind,
} from './subjects.js';

/** Default `max_payload` of nats-server, bytes (used until the server's INFO says otherwise). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Longest request body a peer parses, bytes (the largest legitimate one, a transfer, is well under 1 KB). */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Longest farm message a miner or a peer parses, bytes (a job is about 400 bytes). */
export const MAX_FARM_MESSAGE_BYTES = 4 * 1024;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A message that would exceed the server's `max_payload`. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'ERR_NATS_PAYLOAD_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly maxPayload: number,
  ) {
    super(`message of ${bytes} bytes exceeds the server's max_payload of ${maxPayload} bytes`);
  }
}

/**
 * JSON-encodes `value` (bigints as decimal strings).
 * @throws PayloadTooLargeError when the bytes exceed `maxPayload`.
 */
export function encodeJson(value: unknown, maxPayload = DEFAULT_MAX_PAYLOAD): Uint8Array {
  const bytes = textEncoder.encode(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  if (bytes.length > maxPayload) throw new PayloadTooLargeError(bytes.length, maxPayload);
  return bytes;
}

/** Result of {@link decodeJson}. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; message: string };

/** Parses UTF-8 JSON of at most `maxBytes`; never throws. An empty body decodes as `{}`. */
export function decodeJson(data: Uint8Array, maxBytes: number): Decoded<unknown> {
  if (data.length > maxBytes) return { ok: false, message: `body of ${data.length} bytes exceeds ${maxBytes} bytes` };
  if (data.length === 0) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(textDecoder.decode(data)) };
  } catch (err) {
    return { ok: false, message: `body is not UTF-8 JSON: ${(err as Error).message}` };
  }
}

// ---------------------------------------------------------------------------
// Events

/** The event name a node event is published under. */
export function eventName(e: NodeEvent): EventName {
  switch (e.type) {
    case 'block-connected':
      return 'block.connected';
    case 'block-disconnected':
      return 'block.disconnected';
    case 'block-rejected':
      return 'block.rejected';
    case 'block-mined':
      return 'block.mined';
    case 'tip-changed':
      return 'tip';
    case 'tx-accepted':
      return 'tx.accepted';
    case 'tx-evicted':
      return 'tx.evicted';
    case 'tx-rejected':
      return 'tx.rejected';
    case 'peer-connected':
      return 'peer.connected';
    case 'peer-disconnected':
      return 'peer.disconnected';
    case 'peer-banned':
      return 'peer.banned';
    case 'mining-stats':
      return 'mining.stats';
    case 'sync-progress':
      return 'sync.progress';
    case 'status':
      return 'status';
    default:
      return assertNever(e);
  }
}

/** The payload of a node event: hashes and sizes, never the block itself. */
export function eventPayload(e: NodeEvent): EventPayloads[EventName] {
  switch (e.type) {
    case 'block-connected': {
      const cb = e.block.txs[0];
      return {
        hash: e.entry.hash,
        height: e.entry.height,
        prevHash: hashToHex(e.block.header.prevHash),
        time: e.block.header.time,
        bits: e.block.header.bits,
        txCount: e.block.txs.length,
        size: blockSize(e.block),
        miner: cb ? toHex(cb.recipient) : '',
        reward: cb?.type === 'coinbase' ? cb.amount.toString() : '0',
      };
    }
    case 'block-disconnected':
      return { hash: e.entry.hash, height: e.entry.height, txCount: e.block.txs.length, size: blockSize(e.block) };
    case 'block-rejected':
      return { hash: e.hash, code: e.code, reason: e.reason, ...(e.source !== undefined ? { source: e.source } : {}) };
    case 'block-mined':
      return { hash: e.hash, height: e.height };
    case 'tip-changed':
      return {
        hash: e.tip.hash,
        height: e.tip.height,
        chainWork: e.tip.chainWork.toString(16),
        previous: { hash: e.previous.hash, height: e.previous.height },
        reorgDepth: e.reorgDepth,
      };
    case 'tx-accepted':
      return { txid: e.txid, ...transferFieldsJson(e.tx), ...(e.source !== undefined ? { source: e.source } : {}) };
    case 'tx-evicted':
      return { txid: e.txid, reason: e.reason };
    case 'tx-rejected':
      return { txid: e.txid, code: e.code, reason: e.reason, ...(e.source !== undefined ? { source: e.source } : {}) };
    case 'peer-connected':
      return { peer: e.nodeId, host: e.host, port: e.port, direction: e.direction };
    case 'peer-disconnected':
      return { peer: e.nodeId, host: e.host, port: e.port, direction: e.direction, reason: e.reason };
    case 'peer-banned':
      return { peer: e.nodeId, host: e.host, reason: e.reason, until: e.untilMs };
    case 'mining-stats':
      return { hashRate: e.hashRate, workers: e.workers, blocksWon: e.blocksWon };
    case 'sync-progress':
      return { height: e.height, targetHeight: e.targetHeight, blocksPerSecond: e.blocksPerSecond, secondsLeft: e.secondsLeft ?? null, done: e.done };
    case 'status':
      return { state: e.state };
    default:
      return assertNever(e);
  }
}

/** Builds the envelope published for `data` of event `event`. */
export function eventMessage<E extends EventName>(
  event: E,
  data: EventPayloads[E],
  origin: { network: string; nodeId: string; seq: number; time: number },
): AnyEventMessage {
  return { v: NATS_SCHEMA_VERSION, event, network: origin.network, nodeId: origin.nodeId, time: origin.time, seq: origin.seq, data } as AnyEventMessage;
}

/** Checks the envelope of a received event message (what `watch` prints); undefined when it is not one. */
export function parseEventMessage(value: unknown): AnyEventMessage | undefined {
  if (!isObject(value)) return undefined;
  const { event, network, nodeId, time, seq, data } = value;
  if (typeof event !== 'string' || typeof network !== 'string' || typeof nodeId !== 'string') return undefined;
  if (typeof time !== 'number' || typeof seq !== 'number' || !isObject(data)) return undefined;
  return value as unknown as AnyEventMessage;
}

// ---------------------------------------------------------------------------
// Requests

const HEX64_RE = /^[0-9a-fA-F]{64}$/;

/** A parsed request, or the error reply it deserves. */
export type ParsedRequest<K extends RequestKind> = { ok: true; body: RequestBodies[K] } | { ok: false; error: ReplyError };

function bad(message: string): { ok: false; error: ReplyError } {
  return { ok: false, error: { code: 'bad-request', message } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function extraKeys(o: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  return Object.keys(o).find((k) => !allowed.includes(k));
}

/** An optional non-negative integer field: undefined when absent, `{value}`, or the error message. */
function optionalCount(o: Record<string, unknown>, field: string): { value: number } | string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${field} must be a non-negative integer`;
  return { value: v };
}

function hex64(o: Record<string, unknown>, field: string, what: string): string | ReplyError {
  const v = o[field];
  if (typeof v !== 'string' || !HEX64_RE.test(v)) return { code: 'bad-request', message: `${field} must be ${what}, 64 hex characters` };
  return v.toLowerCase();
}

/**
 * Validates the body of a request of `kind` (exact messages name the field).
 * Never throws: a bad body is a `bad-json` or `bad-request` error.
 */
export function parseRequest<K extends OpenRequestKind>(kind: K, data: Uint8Array): ParsedRequest<K> {
  const decoded = decodeJson(data, MAX_REQUEST_BYTES);
  if (!decoded.ok) return { ok: false, error: { code: 'bad-json', message: decoded.message } };
  const o = decoded.value;
  if (!isObject(o)) return bad('request body must be a JSON object');
  const k: OpenRequestKind = kind;
  const parsed = ((): ParsedRequest<OpenRequestKind> => {
    switch (k) {
      case 'info':
      case 'peers':
      case 'bans': {
        const extra = extraKeys(o, []);
        return extra ? bad(`unknown field ${JSON.stringify(extra)}: ${k} takes an empty body or {}`) : { ok: true, body: {} };
      }
      case 'block': {
        const extra = extraKeys(o, ['hash', 'height', 'summary']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: block takes {hash} or {height}, and optionally summary`);
        if (o['summary'] !== undefined && typeof o['summary'] !== 'boolean') return bad('summary must be true or false');
        const summary = o['summary'] === true;
        if ((o['hash'] === undefined) === (o['height'] === undefined)) return bad('block takes exactly one of hash and height');
        if (o['hash'] !== undefined) {
          const hash = hex64(o, 'hash', 'a block hash');
          return typeof hash === 'string' ? { ok: true, body: { hash, summary } } : { ok: false, error: hash };
        }
        const height = o['height'];
        if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) return bad('height must be a non-negative integer');
        return { ok: true, body: { height, summary } };
      }
      case 'tx': {
        const extra = extraKeys(o, ['txid']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: tx takes {txid}`);
        const txid = hex64(o, 'txid', 'a transaction id');
        return typeof txid === 'string' ? { ok: true, body: { txid } } : { ok: false, error: txid };
      }
      case 'account': {
        const extra = extraKeys(o, ['key']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: account takes {key}`);
        const key = hex64(o, 'key', 'an ed25519 public key');
        return typeof key === 'string' ? { ok: true, body: { key } } : { ok: false, error: key };
      }
      case 'submit': {
        const extra = extraKeys(o, ['tx']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: submit takes {tx}`);
        if (!isObject(o['tx'])) return bad('tx must be a transaction object (the JSON form of a signed transfer)');
        return { ok: true, body: { tx: o['tx'] } };
      }
      case 'chain': {
        const extra = extraKeys(o, ['from', 'limit']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: chain takes {from?, limit?}`);
        const from = optionalCount(o, 'from');
        const limit = optionalCount(o, 'limit');
        if (typeof from === 'string') return bad(from);
        if (typeof limit === 'string') return bad(limit);
        return { ok: true, body: { ...(from !== undefined ? { from: from.value } : {}), ...(limit !== undefined ? { limit: limit.value } : {}) } };
      }
      case 'mempool': {
        const extra = extraKeys(o, ['limit']);
        if (extra) return bad(`unknown field ${JSON.stringify(extra)}: mempool takes {limit?}`);
        const limit = optionalCount(o, 'limit');
        if (typeof limit === 'string') return bad(limit);
        return { ok: true, body: limit !== undefined ? { limit: limit.value } : {} };
      }
      default:
        return assertNever(k);
    }
  })();
  return parsed as ParsedRequest<K>;
}

// ---------------------------------------------------------------------------
// Farm

/** A target as 64 hex characters (big-endian number). @throws RangeError outside [0, 2^256). */
export function targetToHex(target: bigint): string {
  if (target < 0n || target >= 1n << 256n) throw new RangeError('target must be in [0, 2^256)');
  return target.toString(16).padStart(64, '0');
}

/** Parses {@link targetToHex}; undefined when malformed. */
export function targetFromHex(hex: unknown): bigint | undefined {
  return typeof hex === 'string' && HEX64_RE.test(hex) ? BigInt('0x' + hex) : undefined;
}

const HEADER_HEX_RE = new RegExp(`^[0-9a-f]{${HEADER_BYTES * 2}}$`);
const ID_RE = /^[A-Za-z0-9_-]{1,100}$/;
const SUBJECT_RE = /^[A-Za-z0-9_.-]{1,200}$/;

function natural(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/** Most slices of one job (and most miners a peer feeds at once). */
export const MAX_JOB_SLICES = 256;

/** Validates a received job; undefined when anything is off (a miner drops it). */
export function parseFarmJob(v: unknown): FarmJob | undefined {
  if (!isObject(v) || v['type'] !== 'farm/job') return undefined;
  const { jobId, slice, slices, header, target, solutionSubject, hops } = v;
  if (typeof jobId !== 'string' || !ID_RE.test(jobId)) return undefined;
  if (!natural(slice, MAX_JOB_SLICES - 1) || !natural(slices, MAX_JOB_SLICES) || !natural(hops, 1000)) return undefined;
  if (typeof header !== 'string' || !HEADER_HEX_RE.test(header)) return undefined;
  if (targetFromHex(target) === undefined) return undefined;
  if (typeof solutionSubject !== 'string' || !SUBJECT_RE.test(solutionSubject)) return undefined;
  return { type: 'farm/job', v: NATS_SCHEMA_VERSION, jobId, slice, slices, header, target: target as string, solutionSubject, hops };
}

/** Validates a received cancel. */
export function parseFarmCancel(v: unknown): FarmCancel | undefined {
  if (!isObject(v) || v['type'] !== 'farm/cancel' || typeof v['jobId'] !== 'string' || !ID_RE.test(v['jobId'])) return undefined;
  return { type: 'farm/cancel', v: NATS_SCHEMA_VERSION, jobId: v['jobId'] };
}

/** Validates a received solution (shape only; the peer checks the proof of work). */
export function parseFarmSolution(v: unknown): FarmSolution | undefined {
  if (!isObject(v) || v['type'] !== 'farm/solution') return undefined;
  const { jobId, slice, minerId, header, hashes } = v;
  if (typeof jobId !== 'string' || !ID_RE.test(jobId) || !natural(slice, MAX_JOB_SLICES - 1)) return undefined;
  if (typeof minerId !== 'string' || !ID_RE.test(minerId)) return undefined;
  if (typeof header !== 'string' || !HEADER_HEX_RE.test(header) || !natural(hashes)) return undefined;
  return { type: 'farm/solution', v: NATS_SCHEMA_VERSION, jobId, slice, minerId, header, hashes };
}

/** Validates what a remote miner receives on the work or cancel subject. */
export function parseFarmWork(v: unknown): FarmWorkMsg | undefined {
  return parseFarmJob(v) ?? parseFarmCancel(v);
}

/** Validates a received miner report. */
export function parseFarmReport(v: unknown): FarmReport | undefined {
  if (!isObject(v) || v['type'] !== 'farm/report') return undefined;
  const { minerId, hashRate, workers, jobId, slice } = v;
  if (typeof minerId !== 'string' || !ID_RE.test(minerId)) return undefined;
  if (typeof hashRate !== 'number' || !Number.isFinite(hashRate) || hashRate < 0 || !natural(workers, 1_000_000)) return undefined;
  if (jobId !== null && (typeof jobId !== 'string' || !ID_RE.test(jobId))) return undefined;
  if (slice !== null && !natural(slice, MAX_JOB_SLICES - 1)) return undefined;
  return { type: 'farm/report', v: NATS_SCHEMA_VERSION, minerId, hashRate, workers, jobId: jobId as string | null, slice: slice as number | null };
}
