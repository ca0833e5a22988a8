/**
 * Every limit and timing of the peer wire protocol, in one place.
 *
 * Each constant says its unit and where its value comes from. Limits are
 * enforced by the frame decoder (bytes), the message codec (items per
 * message) and the connection (timeouts); bytes past a limit are never
 * buffered (design.md, "Wire protocol"). `docs/protocol.md` lists them for
 * client authors.
 */
import { MAX_BLOCK_TXS } from '../core/params.js';

// ---------------------------------------------------------------------------
// Protocol identity

/** Protocol version this implementation speaks, sent in HELLO/HEY `version`. */
export const PROTOCOL_VERSION = 2;
/**
 * First protocol version that speaks compact blocks (SENDCMPCT, CMPCTBLOCK,
 * GETBLOCKTXN, BLOCKTXN) and GETBLOCKS/BLOCKS: these are sent only to peers
 * whose HELLO/HEY says at least this version (older peers keep BLOCK).
 */
export const COMPACT_BLOCKS_PROTOCOL_VERSION = 2;
/** Oldest protocol version accepted from a remote HELLO/HEY; older ends the connection with `incompatible-version`. */
export const MIN_PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------
// Framing, id exchange, connect and close timings: the wire of
// python-p2p-network 1.2 (source document 002), defined once by the
// `cheesechain/p2p` library that the transport is built on.

export {
  CLOSE_LINGER_MS,
  COMPRESSED_MARKER_BYTE,
  CONNECT_TIMEOUT_MS,
  EOT_BYTE,
  MAX_FRAME_BYTES,
  MAX_ID_LINE_BYTES,
  MAX_NODE_ID_BYTES,
  MAX_PORT,
  MAX_PORT_DIGITS,
  MAX_SEND_BUFFER_BYTES,
  NODE_ID_PATTERN,
} from '../p2p/constants.js';
import { MAX_FRAME_BYTES } from '../p2p/constants.js';

/**
 * Largest frame accepted before the HELLO/HEY exchange completes, bytes. A
 * HELLO is about 400 bytes; a stranger that has not identified itself cannot
 * make us buffer megabytes.
 */
export const MAX_HANDSHAKE_FRAME_BYTES = 16_384;

// ---------------------------------------------------------------------------
// Items per message (source document 004 methods; values from Bitcoin Core
// where it has an equivalent)

/** Most addresses in one ADDR (Bitcoin Core `MAX_ADDR_TO_SEND` = 1000). */
export const MAX_ADDR_ADDRESSES = 1_000;
/** Longest host name or address in ADDR, characters (RFC 1035 §2.3.4: 253 for a full domain name). */
export const MAX_HOST_LENGTH = 253;
/** Most hashes in one LISTOFBLOCKS, and the largest GETLISTOFBLOCKS `limit` (Bitcoin Core `MAX_HEADERS_RESULTS` = 2000). */
export const MAX_LIST_OF_BLOCKS = 2_000;
/**
 * Most hashes in a GETLISTOFBLOCKS block locator. A locator of a chain of
 * height h has about 10 + log2(h) hashes (Bitcoin's `GetLocator`); 64 covers
 * any height that fits in 2^53 and equals the chain actor's `MAX_LOCATOR_HASHES`.
 */
export const MAX_LOCATOR_HASHES = 64;
/** Most block hashes announced in one BROADCASTBLOCK. */
export const MAX_BROADCAST_BLOCKS = 500;
/** Most transaction ids announced in one BROADCASTTRANSACTION (Bitcoin Core `MAX_INV_SZ` = 50,000; 50,000 ids are about 3.4 MB of JSON, under {@link MAX_FRAME_BYTES}). */
export const MAX_INVENTORY_ITEMS = 50_000;
/**
 * Most transactions in one PUSHTRANSACTION. A transfer is about 330 bytes of
 * JSON, so 5,000 are about 1.7 MB, under {@link MAX_FRAME_BYTES}.
 */
export const MAX_PUSH_TRANSACTIONS = 5_000;
/** Most transaction ids requested by one GETTRANSACTIONS: one PUSHTRANSACTION must be able to answer it. */
export const MAX_GETTRANSACTIONS_TXIDS = MAX_PUSH_TRANSACTIONS;
/**
 * Deepest nesting of `[` and `{` in a message's JSON. The deepest message
 * (BLOCK: envelope, payload, block, transactions, transaction) has 5 levels;
 * deeper frames are refused with `malformed-json` by a linear scan before
 * parsing, so a hostile 4 MB frame costs one pass, not a recursive parse.
 */
export const MAX_JSON_DEPTH = 16;
/** Most short ids, prefilled transactions, GETBLOCKTXN indexes or BLOCKTXN transactions of one compact-block message: a block's transaction limit (`MAX_BLOCK_TXS`). */
export const MAX_COMPACT_ITEMS = MAX_BLOCK_TXS;
/** Most block hashes in one GETBLOCKS (fast sync; Bitcoin Core asks up to `MAX_BLOCKS_IN_TRANSIT_PER_PEER` = 16 blocks of up to 4 MB, our blocks are at most 1 MB and sync blocks are usually small). */
export const MAX_GETBLOCKS_HASHES = 500;
/** Most blocks in one BLOCKS answer: one GETBLOCKS can be answered by one message when the blocks are small. */
export const MAX_BLOCKS_PER_MESSAGE = MAX_GETBLOCKS_HASHES;
/**
 * Budget of one BLOCKS frame, bytes of JSON estimated before encoding: the
 * answerer starts a new BLOCKS message beyond it, so that a frame stays well
 * under {@link MAX_FRAME_BYTES} (a full 1 MB block is about 2.4 MB of JSON and travels alone).
 */
export const BLOCKS_MESSAGE_BUDGET_BYTES = 1_000_000;
/** Longest `agent` string in HELLO/HEY, characters (Bitcoin Core `MAX_SUBVERSION_LENGTH` = 256; shorter here). */
export const MAX_AGENT_LENGTH = 64;
/** Longest `code` in REJECT, characters. */
export const MAX_REJECT_CODE_LENGTH = 64;
/** Longest `reason` in REJECT, characters (Bitcoin's reject message caps its reason at 111 bytes; ours is informative only). */
export const MAX_REJECT_REASON_LENGTH = 256;
/** Longest hex chain work in HELLO/HEY, characters (256 bits). */
export const MAX_CHAIN_WORK_HEX = 64;

// ---------------------------------------------------------------------------
// Timing

/** @default 5000 — time allowed from TCP connect to a completed HELLO/HEY exchange, ms (config `connections.handshakeTimeoutMs` overrides it). */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** @default 30000 — after this long without receiving anything, a PING is sent, ms. */
export const PING_INTERVAL_MS = 30_000;
/** @default 20000 — after a PING, the connection ends with `ping-timeout` unless something arrives within this, ms. */
export const PING_TIMEOUT_MS = 20_000;
/**
 * @default 15000 — an open connection sends a HELLO status refresh (document
 * 004: the tracker's liveness check, answered with HEY) this often, ms, so
 * the remote's height and the round-trip time stay current on a busy link
 * where no PING is ever due. The HEY's height replaces the handshake's.
 */
export const STATUS_REFRESH_MS = 15_000;
