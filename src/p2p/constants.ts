/**
 * Wire constants of python-p2p-network 1.2 (source document 002) and the
 * limits this library adds to them. Each says its unit and its source; the
 * cheesechain transport re-exports them from `src/transport/limits.ts`.
 */

/** End-of-transmission byte that terminates every frame (python-p2p-network `EOT_CHAR`). */
export const EOT_BYTE = 0x04;
/** Byte placed before {@link EOT_BYTE} to mark a compressed frame (python-p2p-network `COMPR_CHAR`). */
export const COMPRESSED_MARKER_BYTE = 0x02;

/**
 * @default 4,000,000 — largest frame, bytes: the payload between two
 * {@link EOT_BYTE}s, excluding the terminator. For a compressed frame both the
 * base64 text on the wire and the decompressed payload must fit. The Python
 * library has no limit (seeds.md, 002: "no limit on buffered bytes"); this one
 * leaves room for a maximal cheesechain block (about 2.1 MB as JSON).
 */
export const MAX_FRAME_BYTES = 4_000_000;

/**
 * Longest node id on the wire, bytes. python-p2p-network's generated ids are
 * SHA-512 hex digests, exactly 128 characters, so 128 admits them all.
 */
export const MAX_NODE_ID_BYTES = 128;
/**
 * Characters allowed in a node id on the wire: `[A-Za-z0-9_-]`, 1 to
 * {@link MAX_NODE_ID_BYTES}. Never `:` (it separates id and port in the id
 * line, document 002; an id with two colons killed the Python accept loop)
 * and never `{` (so a JSON message glued after the id line can be told
 * apart). Python's hex ids match.
 */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Most decimal digits of the port in the id line `<id>:<port>`. */
export const MAX_PORT_DIGITS = 5;
/** Largest TCP port number. */
export const MAX_PORT = 65_535;
/** Longest id line `<id>:<port>`, bytes ({@link MAX_NODE_ID_BYTES} + 1 + {@link MAX_PORT_DIGITS}). */
export const MAX_ID_LINE_BYTES = MAX_NODE_ID_BYTES + 1 + MAX_PORT_DIGITS;

/** @default 5000 — time allowed for a TCP connect when dialling, ms. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** @default 5000 — time allowed from TCP connect to a completed id exchange, ms (python-p2p-network: the 10 s socket timeout of its accept loop). */
export const ID_EXCHANGE_TIMEOUT_MS = 5_000;
/** @default 1000 — after a graceful local close, how long pending writes may take before the socket is destroyed, ms. */
export const CLOSE_LINGER_MS = 1_000;
/**
 * @default 16,000,000 — most bytes queued for sending to one node. A node
 * that stops reading while more piles up is disconnected (a slow reader must
 * not make us buffer without bound). Four maximal frames.
 */
export const MAX_SEND_BUFFER_BYTES = 4 * MAX_FRAME_BYTES;
/**
 * @default 250 — how long an acceptor holds its first frames after sending
 * its bare id, ms, unless the dialer speaks first. python-p2p-network's
 * dialer reads the id with one `recv(4096)`: a frame glued to the id would be
 * read as part of it.
 */
export const ID_REPLY_HOLD_MS = 250;
