import { z } from 'zod';
import { blockFromJson, blockToJson, type Block } from '../core/block.js';
import { assertNever } from '../core/reject.js';
import { txFromJson, txToJson, type Transaction } from '../core/transaction.js';
import { MAX_COMPACT_NONCE, type CompactBlock } from '../core/compact-block.js';
import { headerFromJson, headerToJson } from '../core/header.js';
import { encodeFrame, type FrameCompression } from './frame-decoder.js';
import type { HandshakeAuth } from './handshake-auth.js';
import {
  MAX_ADDR_ADDRESSES,
  MAX_AGENT_LENGTH,
  MAX_BLOCKS_PER_MESSAGE,
  MAX_BROADCAST_BLOCKS,
  MAX_COMPACT_ITEMS,
  MAX_GETBLOCKS_HASHES,
  MAX_CHAIN_WORK_HEX,
  MAX_FRAME_BYTES,
  MAX_GETTRANSACTIONS_TXIDS,
  MAX_HOST_LENGTH,
  MAX_INVENTORY_ITEMS,
  MAX_JSON_DEPTH,
  MAX_LIST_OF_BLOCKS,
  MAX_LOCATOR_HASHES,
  MAX_PORT,
  MAX_PUSH_TRANSACTIONS,
  MAX_REJECT_CODE_LENGTH,
  MAX_REJECT_REASON_LENGTH,
  NODE_ID_PATTERN,
} from './limits.js';

/*
 * The message codec of source document 004: every message is a JSON object
 * with exactly one key, the method, whose value is the payload:
 * `{"HELLO": {...}}`. Anything else is rejected. Every payload has a zod
 * schema with named limits; unknown fields inside a payload are ignored
 * (forward compatibility), unknown methods are not.
 *
 * Decoded messages carry domain values where the wire form is only an
 * encoding: BLOCK carries a `Block`, PUSHTRANSACTION `Transaction`s, HELLO/HEY
 * a bigint chain work. `encodeMessage` accepts the same union, so
 * `decodeMessage(encode(m))` round-trips.
 */

/** Every method, in the order of document 004, then the ones cheesechain adds (GETTRANSACTIONS, PING, PONG, REJECT, the compact blocks of BIP 152, GETBLOCKS/BLOCKS of fast sync). */
export const METHODS = [
  'HELLO',
  'HEY',
  'GETADDR',
  'ADDR',
  'BROADCASTBLOCK',
  'GETBLOCK',
  'GETLISTOFBLOCKS',
  'LISTOFBLOCKS',
  'BLOCK',
  'PUSHTRANSACTION',
  'BROADCASTTRANSACTION',
  'GETTRANSACTIONS',
  'PING',
  'PONG',
  'REJECT',
  'SENDCMPCT',
  'CMPCTBLOCK',
  'GETBLOCKTXN',
  'BLOCKTXN',
  'GETBLOCKS',
  'BLOCKS',
] as const;

export type Method = (typeof METHODS)[number];

/** Role announced in HELLO/HEY: a full peer, or the tracker (which has no chain and is never asked for blocks). */
export type NodeRole = 'peer' | 'tracker';

/**
 * HELLO and HEY payload: the sender's status (document 004: "block count and
 * current time"; design.md: version, network id, block count and tip, time,
 * node id, listen port).
 */
export interface HelloPayload {
  /** Protocol version of the sender (`PROTOCOL_VERSION`). */
  version: number;
  /** Network id: the genesis block hash, display hex (64 lowercase digits). */
  network: string;
  /** Height of the sender's tip = its block count - 1 (genesis is height 0). */
  height: number;
  /** Hash of the sender's tip, display hex. */
  tip: string;
  /** Cumulative work of the sender's tip (expected hashes); hex on the wire. */
  chainWork: bigint;
  /** Sender's clock, Unix seconds. */
  time: number;
  /** Sender's node id; must equal the id of the id line (`NODE_ID_PATTERN`). */
  nodeId: string;
  /** TCP port the sender listens on for peers, 0 when it does not listen. */
  port: number;
  /** Free-form software name and version, informative (at most `MAX_AGENT_LENGTH`). */
  agent?: string;
  /** @default 'peer' */
  role?: NodeRole;
  /**
   * Authenticated identity (`handshake-auth.ts`): the sender's ed25519 public
   * key and its fresh nonce for this connection; in a HEY of the handshake
   * also the signature over the handshake transcript. Absent for a peer that
   * cannot sign (a plain python-p2p-network program): it is then an
   * unauthenticated peer and cannot claim an authenticated node id.
   */
  auth?: HandshakeAuth;
}

/** One address of ADDR. */
export interface AddrEntry {
  /** Host name or IP address (IPv6 without brackets), at most `MAX_HOST_LENGTH` characters, no whitespace. */
  host: string;
  /** Peer-protocol port, 1–65535. */
  port: number;
  /** The node id last seen at this address, when known. */
  nodeId?: string;
}

/** Payload of every method. */
export interface MessagePayloads {
  HELLO: HelloPayload;
  HEY: HelloPayload;
  /** Ask for addresses of peers; answered with ADDR. Payload `{}`. */
  GETADDR: Record<string, never>;
  /** At most `MAX_ADDR_ADDRESSES` addresses. */
  ADDR: { addresses: AddrEntry[] };
  /** Announces new blocks by hash, ascending; `height` is the height of the last hash (informative). 1 to `MAX_BROADCAST_BLOCKS` hashes. */
  BROADCASTBLOCK: { hashes: string[]; height?: number };
  /** Asks for one block by hash; answered with BLOCK, or REJECT `not-found`. */
  GETBLOCK: { hash: string };
  /**
   * Asks for main-chain block hashes after the fork point: the first locator
   * hash on the receiver's main chain (Bitcoin's block locator), ascending, up
   * to `stop` (inclusive) or `limit` (default and most `MAX_LIST_OF_BLOCKS`).
   */
  GETLISTOFBLOCKS: { locator: string[]; stop?: string; limit?: number };
  /** Answer to GETLISTOFBLOCKS: hashes ascending, empty when the asker is up to date. */
  LISTOFBLOCKS: { hashes: string[] };
  /** One block (structurally parsed; validity is the chain's decision). */
  BLOCK: { block: Block };
  /** Transactions (structurally parsed), 1 to `MAX_PUSH_TRANSACTIONS`. */
  PUSHTRANSACTION: { transactions: Transaction[] };
  /** Announces transactions by txid, 1 to `MAX_INVENTORY_ITEMS`. */
  BROADCASTTRANSACTION: { txids: string[] };
  /** Fetches announced transactions by txid, 1 to `MAX_GETTRANSACTIONS_TXIDS`; answered with PUSHTRANSACTION of those still known. */
  GETTRANSACTIONS: { txids: string[] };
  /** Liveness probe; answered with PONG carrying the same nonce. */
  PING: { nonce: number };
  PONG: { nonce: number };
  /** Informative: why a message was refused or the connection is ending. Never answered. */
  REJECT: { message: string; code: string; reason: string; hash?: string };
  /**
   * BIP 152 `sendcmpct`: the sender understands compact blocks of `version`
   * (`COMPACT_BLOCK_VERSION`); with `announce` it asks to be sent new blocks
   * as CMPCTBLOCK at once, before the sender has fully validated them
   * (high-bandwidth mode); `announce: false` turns that off again.
   */
  SENDCMPCT: { announce: boolean; version: number };
  /** BIP 152 `cmpctblock`: a block as header, nonce, 48-bit short ids and prefilled transactions (absolute, ascending indexes). */
  CMPCTBLOCK: CompactBlock;
  /** BIP 152 `getblocktxn`: the transactions at `indexes` (absolute, ascending) of the block `hash` announced as CMPCTBLOCK; answered with BLOCKTXN. */
  GETBLOCKTXN: { hash: string; indexes: number[] };
  /** BIP 152 `blocktxn`: the transactions asked by GETBLOCKTXN, in the order asked. */
  BLOCKTXN: { hash: string; transactions: Transaction[] };
  /** Fast sync: asks for several blocks by hash, 1 to `MAX_GETBLOCKS_HASHES`; answered with BLOCKS messages in the order asked (REJECT `not-found` for unknown ones). */
  GETBLOCKS: { hashes: string[] };
  /** Blocks answering GETBLOCKS, 1 to `MAX_BLOCKS_PER_MESSAGE`, in the order asked. */
  BLOCKS: { blocks: Block[] };
}

/** A decoded message: the method and its payload, discriminated by `method`. */
export type Message = { [M in Method]: { method: M; payload: MessagePayloads[M] } }[Method];
export type MessageOf<M extends Method> = Extract<Message, { method: M }>;

// ---------------------------------------------------------------------------
// Schemas

const HASH_PATTERN = /^[0-9a-f]{64}$/;
const HEX32_PATTERN = HASH_PATTERN;
/** Largest 48-bit short id (BIP 152: 6 bytes). */
const MAX_SHORT_ID = 2 ** 48 - 1;
const hashSchema = z.string().regex(HASH_PATTERN, 'expected a hash: 64 lowercase hex digits');
const uint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const nodeIdSchema = z.string().regex(NODE_ID_PATTERN, 'expected a node id: 1 to 128 characters of [A-Za-z0-9_-]');

const helloSchema = z.object({
  version: z.number().int().min(0).max(0xffff_ffff),
  network: hashSchema,
  height: uint,
  tip: hashSchema,
  chainWork: z
    .string()
    .regex(new RegExp(`^[0-9a-f]{1,${MAX_CHAIN_WORK_HEX}}$`), `expected chain work: 1 to ${MAX_CHAIN_WORK_HEX} lowercase hex digits`)
    .transform((s) => BigInt('0x' + s)),
  time: uint,
  nodeId: nodeIdSchema,
  port: z.number().int().min(0).max(MAX_PORT),
  agent: z.string().max(MAX_AGENT_LENGTH).optional(),
  role: z.enum(['peer', 'tracker']).optional(),
  auth: z
    .object({
      publicKey: z.string().regex(HEX32_PATTERN, 'expected an ed25519 public key: 64 lowercase hex digits'),
      nonce: z.string().regex(HEX32_PATTERN, 'expected a nonce: 64 lowercase hex digits'),
      signature: z.string().regex(/^[0-9a-f]{128}$/, 'expected an ed25519 signature: 128 lowercase hex digits').optional(),
    })
    .optional(),
});

/** Runs a core parser (which throws `DecodeError`) inside a schema, turning its message into a zod issue. */
function parsedWith<T>(parse: (v: unknown) => T) {
  return z.unknown().transform((v, ctx): T => {
    try {
      return parse(v);
    } catch (err) {
      ctx.issues.push({ code: 'custom', message: (err as Error).message, input: v });
      return z.NEVER;
    }
  });
}

const txListSchema = (max: number) =>
  z
    .array(z.unknown())
    .min(1)
    .max(max)
    .transform((items, ctx): Transaction[] => {
      const out: Transaction[] = [];
      for (let i = 0; i < items.length; i++) {
        try {
          out.push(txFromJson(items[i]));
        } catch (err) {
          ctx.issues.push({ code: 'custom', message: (err as Error).message, input: items[i], path: [i] });
          return z.NEVER;
        }
      }
      return out;
    });

/**
 * The schema of every payload (the `z.ZodType` output is the payload type of
 * {@link MessagePayloads}). Limits are the named constants of `limits.ts`.
 */
export const PAYLOAD_SCHEMAS: { readonly [M in Method]: z.ZodType<MessagePayloads[M], any> } = {
  HELLO: helloSchema,
  HEY: helloSchema,
  GETADDR: z.object({}).transform((): Record<string, never> => ({})),
  ADDR: z.object({
    addresses: z
      .array(
        z.object({
          host: z.string().min(1).max(MAX_HOST_LENGTH).regex(/^\S+$/, 'expected a host without whitespace'),
          port: z.number().int().min(1).max(MAX_PORT),
          nodeId: nodeIdSchema.optional(),
        }),
      )
      .max(MAX_ADDR_ADDRESSES),
  }),
  BROADCASTBLOCK: z.object({ hashes: z.array(hashSchema).min(1).max(MAX_BROADCAST_BLOCKS), height: uint.optional() }),
  GETBLOCK: z.object({ hash: hashSchema }),
  GETLISTOFBLOCKS: z.object({
    locator: z.array(hashSchema).min(1).max(MAX_LOCATOR_HASHES),
    stop: hashSchema.optional(),
    limit: z.number().int().min(1).max(MAX_LIST_OF_BLOCKS).optional(),
  }),
  LISTOFBLOCKS: z.object({ hashes: z.array(hashSchema).max(MAX_LIST_OF_BLOCKS) }),
  BLOCK: z.object({ block: parsedWith(blockFromJson) }),
  PUSHTRANSACTION: z.object({ transactions: txListSchema(MAX_PUSH_TRANSACTIONS) }),
  BROADCASTTRANSACTION: z.object({ txids: z.array(hashSchema).min(1).max(MAX_INVENTORY_ITEMS) }),
  GETTRANSACTIONS: z.object({ txids: z.array(hashSchema).min(1).max(MAX_GETTRANSACTIONS_TXIDS) }),
  PING: z.object({ nonce: uint }),
  PONG: z.object({ nonce: uint }),
  SENDCMPCT: z.object({ announce: z.boolean(), version: z.number().int().min(0).max(0xffff_ffff) }),
  CMPCTBLOCK: z
    .object({
      header: parsedWith(headerFromJson),
      nonce: z.number().int().min(0).max(MAX_COMPACT_NONCE),
      shortIds: z.array(z.number().int().min(0).max(MAX_SHORT_ID)).max(MAX_COMPACT_ITEMS),
      prefilled: z
        .array(z.object({ index: z.number().int().min(0).max(MAX_COMPACT_ITEMS - 1), tx: parsedWith(txFromJson) }))
        .min(1)
        .max(MAX_COMPACT_ITEMS),
    })
    .transform((c): CompactBlock => ({ header: c.header, nonce: c.nonce, shortIds: c.shortIds, prefilled: c.prefilled })),
  GETBLOCKTXN: z.object({
    hash: hashSchema,
    indexes: z
      .array(z.number().int().min(0).max(MAX_COMPACT_ITEMS - 1))
      .min(1)
      .max(MAX_COMPACT_ITEMS)
      .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), 'indexes must be strictly ascending'),
  }),
  BLOCKTXN: z.object({ hash: hashSchema, transactions: txListSchema(MAX_COMPACT_ITEMS) }),
  GETBLOCKS: z.object({ hashes: z.array(hashSchema).min(1).max(MAX_GETBLOCKS_HASHES) }),
  BLOCKS: z.object({ blocks: z.array(parsedWith(blockFromJson)).min(1).max(MAX_BLOCKS_PER_MESSAGE) }),
  REJECT: z.object({
    message: z.string().max(32),
    code: z.string().min(1).max(MAX_REJECT_CODE_LENGTH),
    reason: z.string().max(MAX_REJECT_REASON_LENGTH),
    hash: hashSchema.optional(),
  }),
};

// ---------------------------------------------------------------------------
// Decoding

/**
 * Why a frame's text is not a message. All are message-level (the frame was
 * well delimited); the connection treats each as misbehaviour.
 */
export type MessageErrorCode = 'malformed-json' | 'not-an-object' | 'not-one-key' | 'unknown-method' | 'bad-payload';

/**
 * A refused message: `code` is always `ERR_MESSAGE`, `reason` the kind (the
 * disconnect reason's source). `method` is set when the method was
 * recognised (`bad-payload`).
 */
export class MessageError extends Error {
  override readonly name = 'MessageError';
  readonly code = 'ERR_MESSAGE';
  constructor(
    readonly reason: MessageErrorCode,
    message: string,
    readonly method?: Method,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type DecodeMessageResult = { ok: true; message: Message } | { ok: false; error: MessageError };

const METHOD_SET: ReadonlySet<string> = new Set(METHODS);

/** True when `s` names a method (own names only: `constructor`, `__proto__` are not methods). */
export function isMethod(s: string): s is Method {
  return METHOD_SET.has(s);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : typeof v;
}

function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s || '(payload)';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_CURLY = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_CURLY = 0x7d;

/**
 * One linear pass over JSON text counting `[`/`{` nesting outside strings:
 * the offset of the first bracket deeper than `max`, or undefined. It runs
 * before `JSON.parse` so that a deeply nested frame is refused for the cost
 * of one scan (a few ms for 4 MB) instead of a recursive parse (seconds, or a
 * stack overflow). It does not validate the JSON: `JSON.parse` does that next.
 */
export function nestingDepthExceeds(text: string, max: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_CURLY) {
      if (++depth > max) return i;
    } else if (c === CLOSE_BRACKET || c === CLOSE_CURLY) depth--;
  }
  return undefined;
}

/**
 * Decodes the text of one frame into a {@link Message}.
 *
 * Never throws: returns `{ ok: false, error }` with a {@link MessageError}
 * whose `code` is `malformed-json` (not JSON, or nested deeper than
 * `MAX_JSON_DEPTH`, checked before parsing), `not-an-object` (JSON but not
 * a dictionary), `not-one-key` (zero or several keys), `unknown-method` or
 * `bad-payload` (the payload fails its schema; the message names the zod
 * issue path, e.g. `ADDR: addresses[3].port: ...`).
 */
export function decodeMessage(text: string): DecodeMessageResult {
  const depth = nestingDepthExceeds(text, MAX_JSON_DEPTH);
  if (depth !== undefined) {
    return { ok: false, error: new MessageError('malformed-json', `JSON nested deeper than ${MAX_JSON_DEPTH} levels (at offset ${depth})`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: new MessageError('malformed-json', `not JSON: ${(err as Error).message}`, undefined, { cause: err }) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: new MessageError('not-an-object', `message must be a JSON object, got ${describe(json)}`) };
  }
  const keys = Object.keys(json);
  if (keys.length !== 1) {
    return { ok: false, error: new MessageError('not-one-key', `message must have exactly one key (the method), got ${keys.length}`) };
  }
  const key = keys[0]!;
  if (!isMethod(key)) {
    return { ok: false, error: new MessageError('unknown-method', `unknown method ${JSON.stringify(key.slice(0, 64))}`) };
  }
  const parsed = PAYLOAD_SCHEMAS[key].safeParse((json as Record<string, unknown>)[key]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : '';
    return { ok: false, error: new MessageError('bad-payload', `${key}: ${formatPath(issue.path)}: ${issue.message}${more}`, key, { cause: parsed.error }) };
  }
  return { ok: true, message: { method: key, payload: parsed.data } as Message };
}

// ---------------------------------------------------------------------------
// Encoding

/** The JSON value sent for a message's payload (domain values turned back into their wire form). */
export function payloadToJson(msg: Message): unknown {
  switch (msg.method) {
    case 'HELLO':
    case 'HEY':
      return { ...msg.payload, chainWork: msg.payload.chainWork.toString(16) };
    case 'BLOCK':
      return { block: blockToJson(msg.payload.block) };
    case 'PUSHTRANSACTION':
      return { transactions: msg.payload.transactions.map(txToJson) };
    case 'CMPCTBLOCK': {
      const c = msg.payload;
      return { header: headerToJson(c.header), nonce: c.nonce, shortIds: c.shortIds, prefilled: c.prefilled.map((p) => ({ index: p.index, tx: txToJson(p.tx) })) };
    }
    case 'BLOCKTXN':
      return { hash: msg.payload.hash, transactions: msg.payload.transactions.map(txToJson) };
    case 'BLOCKS':
      return { blocks: msg.payload.blocks.map(blockToJson) };
    case 'SENDCMPCT':
    case 'GETBLOCKTXN':
    case 'GETBLOCKS':
    case 'GETADDR':
    case 'ADDR':
    case 'BROADCASTBLOCK':
    case 'GETBLOCK':
    case 'GETLISTOFBLOCKS':
    case 'LISTOFBLOCKS':
    case 'BROADCASTTRANSACTION':
    case 'GETTRANSACTIONS':
    case 'PING':
    case 'PONG':
    case 'REJECT':
      return msg.payload;
    default:
      return assertNever(msg);
  }
}

/** The JSON text of a message: `{"<METHOD>": <payload>}`. */
export function messageToJson(msg: Message): string {
  return JSON.stringify({ [msg.method]: payloadToJson(msg) });
}

/**
 * Encodes a message as one frame: its JSON text in UTF-8 followed by 0x04
 * (or, with `compression: 'zlib'`, python-p2p-network's compressed frame).
 * The payload is not validated against its schema: callers build messages
 * from valid values.
 * @throws FrameError `frame-too-large` when the frame would exceed
 *   `MAX_FRAME_BYTES` (the remote would refuse it).
 */
export function encodeMessage(msg: Message, options: { compression?: FrameCompression } = {}): Buffer {
  return encodeFrame(messageToJson(msg), { compression: options.compression ?? 'none', maxFrameBytes: MAX_FRAME_BYTES });
}

/**
 * A message framed once and sent as the same bytes to many peers (a block
 * relayed to every neighbour is encoded once, not once per neighbour).
 */
export class EncodedMessage {
  private constructor(
    readonly message: Message,
    /** The frame of {@link encodeMessage}. */
    readonly frame: Buffer,
  ) {}

  /** @throws FrameError `frame-too-large` as {@link encodeMessage}. */
  static of(msg: Message): EncodedMessage {
    return new EncodedMessage(msg, encodeMessage(msg));
  }
}

/** What a connection sends: a message, or one already framed. */
export type Outgoing = Message | EncodedMessage;

/** Builds a message with a type-checked payload: `message('GETBLOCK', { hash })`. */
export function message<M extends Method>(method: M, payload: MessagePayloads[M]): MessageOf<M> {
  return { method, payload } as MessageOf<M>;
}
