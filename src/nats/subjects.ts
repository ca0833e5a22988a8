/**
 * The NATS subject layout of cheesechain and the JSON schema of every payload
 * (design "NATS"). Everything a peer publishes lives under
 * `cheesechain.<network>.<nodeId>.`; the mining farm of a network under
 * `cheesechain.<network>.farm.`. `docs/nats.md` documents the same contract
 * for people; this file is the one the code uses.
 *
 * Conventions of every payload: UTF-8 JSON; hashes, txids and keys in display
 * hex (lower case, 64 characters, block hashes byte-reversed as in Bitcoin);
 * amounts as decimal strings of base units; times as numbers with their unit
 * in the field's doc. No payload carries a whole block: events carry a
 * block's hash, height, transaction count and size, farm templates carry the
 * 80-byte header and the target. Every message must fit the server's
 * `max_payload` (1 MiB by default).
 */
import type { RejectCode } from '../core/reject.js';
import type { TransactionJson } from '../core/transaction.js';
import type { AccountView, BanView, BlockView, ChainPage, MempoolView, NodeInfo, PeerView, SubmitBlockResult, TransactionView } from '../node/node-api.js';

/** First token of every cheesechain subject. */
export const SUBJECT_ROOT = 'cheesechain';
/** Version of the payload schemas below; bumped on an incompatible change. */
export const NATS_SCHEMA_VERSION = 1;
/** Queue group the remote miners of a network join on the farm work subject. */
export const FARM_QUEUE_GROUP = 'cheesechain-miners';
/**
 * A subject token: the characters NATS allows in a token minus the wildcards
 * `*`/`>` and the separator `.` (node ids are `[A-Za-z0-9_-]{1,64}`, config
 * schema).
 */
export const SUBJECT_TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A subject token that is not a plain `[A-Za-z0-9_-]{1,64}` word. */
export class SubjectTokenError extends Error {
  override readonly name = 'SubjectTokenError';
  readonly code = 'ERR_NATS_SUBJECT_TOKEN';
  constructor(what: string, value: string) {
    super(`${what} must be 1–64 characters of A-Z a-z 0-9 _ - to be a NATS subject token, got ${JSON.stringify(value.slice(0, 80))}`);
  }
}

/** @throws SubjectTokenError when `value` cannot be one subject token. */
export function checkToken(what: string, value: string): string {
  if (!SUBJECT_TOKEN_PATTERN.test(value)) throw new SubjectTokenError(what, value);
  return value;
}

// ---------------------------------------------------------------------------
// Events

/**
 * Event names and the subject suffix each is published on, below
 * `cheesechain.<network>.<nodeId>.evt.`. `as const` rather than an enum
 * (nats.js habit).
 */
export const EVENT_SUBJECTS = {
  'block.connected': 'block.connected',
  'block.disconnected': 'block.disconnected',
  'block.rejected': 'block.rejected',
  'block.mined': 'block.mined',
  tip: 'tip',
  'tx.accepted': 'tx.accepted',
  'tx.evicted': 'tx.evicted',
  'tx.rejected': 'tx.rejected',
  'peer.connected': 'peer.connected',
  'peer.disconnected': 'peer.disconnected',
  'peer.banned': 'peer.banned',
  'mining.stats': 'mining.stats',
  'sync.progress': 'sync.progress',
  status: 'status',
} as const;
/** Name of an event (`block.connected`, `tip`, …): the subject suffix after `evt.`. */
export type EventName = keyof typeof EVENT_SUBJECTS;
/** Every event name. */
export const EVENT_NAMES = Object.keys(EVENT_SUBJECTS) as EventName[];

/** `block.connected`: a block joined the main chain (in order, after it is durable). */
export interface BlockConnectedPayload {
  hash: string;
  height: number;
  prevHash: string;
  /** Header time, seconds since the epoch. */
  time: number;
  /** Compact target of the header. */
  bits: number;
  /** Transactions in the block, coinbase included. */
  txCount: number;
  /** Serialised size, bytes. */
  size: number;
  /** Key (hex) the coinbase pays. */
  miner: string;
  /** Coinbase amount: reward plus fees, base units (decimal string). */
  reward: string;
}

/** `block.disconnected`: a block left the main chain (reorg). */
export interface BlockDisconnectedPayload {
  hash: string;
  height: number;
  txCount: number;
  /** Bytes. */
  size: number;
}

/** `block.rejected`: a block failed validation. */
export interface BlockRejectedPayload {
  hash: string;
  code: RejectCode;
  reason: string;
  /** Where it came from: 'miner', 'api', a peer's node id… */
  source?: string;
}

/** `block.mined`: this peer (or its farm) mined a block that connected. */
export interface BlockMinedPayload {
  hash: string;
  height: number;
}

/** `tip`: the main-chain tip changed (one event per change, after the connects/disconnects of a reorg). */
export interface TipPayload {
  hash: string;
  height: number;
  /** Cumulative work of the tip, hex without `0x`. */
  chainWork: string;
  previous: { hash: string; height: number };
  /** Blocks disconnected by this change (0 when the chain was just extended). */
  reorgDepth: number;
}

/** `tx.accepted`: a transfer entered the mempool. */
export interface TxAcceptedPayload {
  txid: string;
  sender: string;
  recipient: string;
  /** Base units, decimal string. */
  amount: string;
  /** Base units, decimal string. */
  fee: string;
  nonce: number;
  source?: string;
}

/** `tx.evicted`: a transfer left the mempool without being confirmed in a block. */
export interface TxEvictedPayload {
  txid: string;
  reason: 'confirmed-conflict' | 'mempool-full' | 'invalid-after-reorg' | 'expired';
}

/** `tx.rejected`: a transfer was refused by the mempool (never for `already-known`). */
export interface TxRejectedPayload {
  txid: string;
  code: RejectCode;
  reason: string;
  /** Where it came from: 'api', 'nats', a peer's node id… */
  source?: string;
}

/** `peer.connected`: a peer finished the handshake. `peer` is its node id. */
export interface PeerConnectedPayload {
  peer: string;
  host: string;
  port: number;
  direction: 'inbound' | 'outbound';
}

/** `peer.disconnected`. */
export interface PeerDisconnectedPayload extends PeerConnectedPayload {
  reason: string;
}

/** `peer.banned`: a misbehaving peer was banned. */
export interface PeerBannedPayload {
  peer: string;
  host: string;
  reason: string;
  /** End of the ban, ms since the epoch. */
  until: number;
}

/** `mining.stats`: every few seconds while the peer mines (locally or through its farm). */
export interface MiningStatsPayload {
  /** Hashes per second. */
  hashRate: number;
  workers: number;
  blocksWon: number;
}

/** `sync.progress`: every second while the peer catches up with its peers, and once when it has (`done`). */
export interface SyncProgressPayload {
  height: number;
  targetHeight: number;
  /** Blocks connected per second over the last 10 s. */
  blocksPerSecond: number;
  /** Estimated seconds to `targetHeight`; null while no rate is known. */
  secondsLeft: number | null;
  done: boolean;
}

/**
 * `status`: `started` and `stopping` of the peer, and `online` each time the
 * bridge (re)connects to NATS (with the tip then, so a watcher that missed the
 * outage knows where the peer stands).
 */
export type StatusPayload =
  | { state: 'started' | 'stopping' }
  | { state: 'online'; height: number; tip: string; reconnect: boolean };

/** The payload of each event name. */
export interface EventPayloads {
  'block.connected': BlockConnectedPayload;
  'block.disconnected': BlockDisconnectedPayload;
  'block.rejected': BlockRejectedPayload;
  'block.mined': BlockMinedPayload;
  tip: TipPayload;
  'tx.accepted': TxAcceptedPayload;
  'tx.evicted': TxEvictedPayload;
  'tx.rejected': TxRejectedPayload;
  'peer.connected': PeerConnectedPayload;
  'peer.disconnected': PeerDisconnectedPayload;
  'peer.banned': PeerBannedPayload;
  'mining.stats': MiningStatsPayload;
  'sync.progress': SyncProgressPayload;
  status: StatusPayload;
}

/**
 * The JSON object published on every event subject: an envelope naming the
 * event, its origin and time, around the event's payload.
 */
export interface EventMessage<E extends EventName = EventName> {
  /** {@link NATS_SCHEMA_VERSION}. */
  v: number;
  event: E;
  network: string;
  nodeId: string;
  /** When the bridge published it, ms since the epoch. */
  time: number;
  /** Per-bridge sequence number from 1; a gap means events were dropped, a repeat that one was re-sent after an outage (see the bridge's buffering). */
  seq: number;
  data: EventPayloads[E];
}

/** Union of every event message, discriminated by `event`. */
export type AnyEventMessage = { [E in EventName]: EventMessage<E> }[EventName];

// ---------------------------------------------------------------------------
// Requests

/** Requests open to anyone who can reach the NATS server: the reads, and a signed transaction (as `POST /tx`). */
export const OPEN_REQUEST_KINDS = ['info', 'block', 'tx', 'account', 'submit', 'peers', 'chain', 'mempool', 'bans'] as const;
/**
 * Control requests, the HTTP API's control routes over NATS (docs/nats.md
 * "Control requests"): each body carries the peer's API token in `token`.
 */
export const CONTROL_REQUEST_KINDS = ['mining-start', 'mining-stop', 'connect', 'connect-tracker', 'disconnect', 'ban', 'unban', 'send', 'submit-block', 'stop'] as const;
/** Request kinds; each is answered on `cheesechain.<network>.<nodeId>.req.<kind>`. */
export const REQUEST_KINDS = [...OPEN_REQUEST_KINDS, ...CONTROL_REQUEST_KINDS] as const;
/** A request kind: the last token of a request subject. */
export type RequestKind = (typeof REQUEST_KINDS)[number];
/** A request kind open to anyone. */
export type OpenRequestKind = (typeof OPEN_REQUEST_KINDS)[number];
/** A control request kind. */
export type ControlRequestKind = (typeof CONTROL_REQUEST_KINDS)[number];

/** Whether `kind` is a control request (one that needs the token). */
export function isControlKind(kind: RequestKind): kind is ControlRequestKind {
  return (CONTROL_REQUEST_KINDS as readonly string[]).includes(kind);
}

/** The API token (64 hex characters, `<dataDir>/api.token`) every control request carries. */
type Token = { token: string };

/** Request bodies (JSON). `info` and `peers` take an empty body or `{}`. */
export interface RequestBodies {
  info: Record<string, never>;
  /** By hash or by main-chain height, exactly one of them. `summary: true` leaves out the transactions. */
  block: { hash: string; summary?: boolean } | { height: number; summary?: boolean };
  tx: { txid: string };
  /** `key`: ed25519 public key, 64 hex characters. */
  account: { key: string };
  /** `tx`: a signed transfer in its JSON form (`txToJson`). */
  submit: { tx: unknown };
  peers: Record<string, never>;
  /** Main-chain blocks newest first from height `from` (default: the tip), at most `limit` (default 20, at most 500). */
  chain: { from?: number; limit?: number };
  /** Best-fee-first transfers, at most `limit` (default 100, at most 1,000). */
  mempool: { limit?: number };
  bans: Record<string, never>;
  'mining-start': Token;
  'mining-stop': Token;
  connect: Token & { host: string; port: number };
  'connect-tracker': Token;
  disconnect: Token & { nodeId: string };
  /** `seconds`: 1 – 31,536,000, default 86,400. */
  ban: Token & ({ nodeId: string; seconds?: number } | { host: string; seconds?: number });
  unban: Token & ({ nodeId: string } | { host: string });
  /** Amounts as decimal strings of base units. */
  send: Token & ({ random: true } | { recipient: string; amount: string; fee: string });
  /** `block`: a block in its JSON form (`blockToJson`, as `req.block` shows `block`). */
  'submit-block': Token & { block: unknown };
  stop: Token;
}

/** A block without its transactions (reply to `req.block` with `summary: true`). */
export interface BlockSummary {
  hash: string;
  height: number;
  mainChain: boolean;
  /** Bytes. */
  size: number;
  header: BlockView['block']['header'];
  txCount: number;
}

/** Result of each request kind when it succeeds. */
export interface RequestResults {
  info: NodeInfo;
  block: BlockView | BlockSummary;
  tx: TransactionView;
  account: AccountView;
  submit: { txid: string };
  peers: PeerView[];
  chain: ChainPage;
  mempool: MempoolView;
  bans: BanView[];
  'mining-start': Record<string, never>;
  'mining-stop': Record<string, never>;
  connect: Record<string, never>;
  /** Dials started. */
  'connect-tracker': { dialing: number };
  disconnect: Record<string, never>;
  ban: Record<string, never>;
  unban: Record<string, never>;
  send: { txid: string; tx: TransactionJson };
  /** The chain's verdict on a valid block (an invalid one is `rejected`). */
  'submit-block': Exclude<SubmitBlockResult, { status: 'invalid' } | { status: 'malformed' }>;
  /** The peer is stopping (the reply is sent first). */
  stop: Record<string, never>;
}

/**
 * Error codes of a reply:
 * - `bad-json`: the body is not UTF-8 JSON;
 * - `bad-request`: a field is missing, extra or invalid (the message names it);
 * - `unauthorized`: a control request without the peer's API token, or with a wrong one;
 * - `not-found`: no such block, transaction, connected peer or ban;
 * - `rejected`: the peer refused the transaction or the block (`reject` holds the validation code);
 * - `unavailable`: the peer has no such part (no tracker configured, no mining key);
 * - `too-large`: the reply would exceed the server's `max_payload` (ask for a block `summary` or use the HTTP API);
 * - `busy`: too many requests in flight at this peer;
 * - `internal`: the peer failed to answer (an actor timed out or crashed).
 */
export const REPLY_ERROR_CODES = ['bad-json', 'bad-request', 'unauthorized', 'not-found', 'rejected', 'unavailable', 'too-large', 'busy', 'internal'] as const;
/** One of {@link REPLY_ERROR_CODES}. */
export type ReplyErrorCode = (typeof REPLY_ERROR_CODES)[number];

/** The error of a failed request. */
export interface ReplyError {
  code: ReplyErrorCode;
  message: string;
  /** Only with `rejected`: the validation code of the transaction. */
  reject?: RejectCode;
  /** Only with `rejected`, when known: the transaction's id. */
  txid?: string;
  /** Only with `rejected` of `submit-block`: the block's hash. */
  hash?: string;
}

/** Every reply: `{ok: true, result}` or `{ok: false, error}`. */
export type RequestReply<K extends RequestKind = RequestKind> = { ok: true; result: RequestResults[K] } | { ok: false; error: ReplyError };

// ---------------------------------------------------------------------------
// Farm

/**
 * A job slice on `cheesechain.<network>.farm.work` (queue group
 * {@link FARM_QUEUE_GROUP}: each slice reaches one miner). Slices of one job
 * differ only in the header time (`base time + slice` seconds), so that
 * miners search disjoint spaces.
 */
export interface FarmJob {
  type: 'farm/job';
  v: number;
  /** `<farmId>-<counter>`; unique per issuing peer. */
  jobId: string;
  slice: number;
  /** Slices issued for this job so far. */
  slices: number;
  /** The 80-byte header template, hex (nonce ignored). */
  header: string;
  /** Target, hex (64 characters, big-endian number): the header hash read little-endian must be ≤ it. */
  target: string;
  /** Subject to publish the solution on. */
  solutionSubject: string;
  /** How many miners have forwarded this slice because they were busy with the same job (bounded). */
  hops: number;
}

/** On `cheesechain.<network>.farm.cancel` (every miner): stop the job; solutions for it are ignored. */
export interface FarmCancel {
  type: 'farm/cancel';
  v: number;
  jobId: string;
}

/** On the job's `solutionSubject`: a solved header. */
export interface FarmSolution {
  type: 'farm/solution';
  v: number;
  jobId: string;
  slice: number;
  minerId: string;
  /** The solved 80-byte header, hex. */
  header: string;
  /** Hashes tried for this slice. */
  hashes: number;
}

/** On `cheesechain.<network>.farm.report`, by each miner every {@link FARM_REPORT_INTERVAL_MS}. */
export interface FarmReport {
  type: 'farm/report';
  v: number;
  minerId: string;
  /** Hashes per second. */
  hashRate: number;
  workers: number;
  /** The job (and slice) it works on, or null when idle. */
  jobId: string | null;
  slice: number | null;
}

/** What a remote miner receives: a job slice (queue group) or a cancel (every miner). */
export type FarmWorkMsg = FarmJob | FarmCancel;

/** Interval of miner reports, ms. */
export const FARM_REPORT_INTERVAL_MS = 1_000;

// ---------------------------------------------------------------------------
// Subject builders

/** Prefix of everything a network publishes: `cheesechain.<network>`. */
export function networkSubject(network: string): string {
  return `${SUBJECT_ROOT}.${checkToken('network', network)}`;
}

/** Prefix of one peer: `cheesechain.<network>.<nodeId>`. */
export function nodeSubject(network: string, nodeId: string): string {
  return `${networkSubject(network)}.${checkToken('nodeId', nodeId)}`;
}

/** `cheesechain.<network>.<nodeId>.evt.<event>`. */
export function eventSubject(network: string, nodeId: string, event: EventName): string {
  return `${nodeSubject(network, nodeId)}.evt.${EVENT_SUBJECTS[event]}`;
}

/** `cheesechain.<network>.<nodeId>.req.<kind>`. */
export function requestSubject(network: string, nodeId: string, kind: RequestKind): string {
  return `${nodeSubject(network, nodeId)}.req.${kind}`;
}

/** Wildcard of every event of every peer of a network: `cheesechain.<network>.*.evt.>`. */
export function networkEventsWildcard(network: string): string {
  return `${networkSubject(network)}.*.evt.>`;
}

/** Wildcard of every event of every network: `cheesechain.*.*.evt.>`. */
export const ALL_EVENTS_WILDCARD = `${SUBJECT_ROOT}.*.*.evt.>`;

/** The farm subjects of a network. */
export function farmSubjects(network: string): { work: string; cancel: string; report: string; solutionPrefix: string } {
  const base = `${networkSubject(network)}.farm`;
  return { work: `${base}.work`, cancel: `${base}.cancel`, report: `${base}.report`, solutionPrefix: `${base}.solution` };
}

/** `cheesechain.<network>.farm.solution.<farmId>`: where the miners send solutions for one peer's jobs. */
export function farmSolutionSubject(network: string, farmId: string): string {
  return `${farmSubjects(network).solutionPrefix}.${checkToken('farmId', farmId)}`;
}

/**
 * Splits an event subject into its parts; undefined for any other subject.
 * (`cheesechain.<network>.<nodeId>.evt.<a>[.<b>]`)
 */
export function parseEventSubject(subject: string): { network: string; nodeId: string; event: EventName } | undefined {
  const parts = subject.split('.');
  if (parts.length < 5 || parts[0] !== SUBJECT_ROOT || parts[3] !== 'evt') return undefined;
  const event = parts.slice(4).join('.');
  if (!(event in EVENT_SUBJECTS)) return undefined;
  return { network: parts[1]!, nodeId: parts[2]!, event: event as EventName };
}
