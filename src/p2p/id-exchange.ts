import { MAX_NODE_ID_BYTES, MAX_PORT, MAX_PORT_DIGITS, NODE_ID_PATTERN } from './constants.js';

/*
 * The id exchange of python-p2p-network 1.2 (source document 002), pure:
 *
 *   dialer   → `<nodeId>:<listenPort>`   (no terminator: the Python acceptor reads it with one recv(4096))
 *   acceptor → `<nodeId>`                (no terminator, nothing glued after it: the Python dialer reads it with one recv(4096))
 *
 * After it, both sides speak 0x04-terminated frames (`framing.ts`).
 */

const COLON = 0x3a;
const OPEN_BRACE = 0x7b;

/** Result of parsing the bytes received so far during the id exchange. */
export type IdLineResult =
  | { status: 'incomplete' }
  | { status: 'ok'; nodeId: string; port: number; rest: Buffer }
  | { status: 'error'; message: string };

/** Why `id` is not a node id of {@link NODE_ID_PATTERN}, or undefined when it is one. */
export function checkNodeId(id: Uint8Array): string | undefined {
  if (id.length === 0) return 'empty node id';
  if (id.length > MAX_NODE_ID_BYTES) return `node id longer than ${MAX_NODE_ID_BYTES} bytes`;
  if (!NODE_ID_PATTERN.test(Buffer.from(id.buffer, id.byteOffset, id.length).toString('latin1'))) return 'node id has a character outside [A-Za-z0-9_-]';
  return undefined;
}

/**
 * Parses the dialer's id line `<nodeId>:<port>` as the acceptor receives it.
 *
 * python-p2p-network reads the id line as one `recv`: it has no terminator.
 * Here it ends at the end of the bytes received so far once it holds `:`
 * followed by at least one digit, or earlier at a `{` (the start of a JSON
 * message glued after it by a client that did not wait; those bytes are
 * returned in `rest`). Until then it is `incomplete`. The id is 1 to 128
 * characters of `[A-Za-z0-9_-]`; the port 1 to 5 digits, 0 to 65535 (0: the
 * dialer does not listen). Anything else, such as a second `:`, is an error
 * (an id with two colons killed the Python accept loop, seeds.md 002).
 */
export function parseIdLine(buf: Buffer): IdLineResult {
  const brace = buf.indexOf(OPEN_BRACE);
  const end = brace === -1 ? buf.length : brace;
  const colon = buf.indexOf(COLON);
  if (colon === -1 || colon >= end) {
    const idPart = buf.subarray(0, end);
    if (brace !== -1) return { status: 'error', message: 'id line has no port (expected <id>:<port>)' };
    if (idPart.length > MAX_NODE_ID_BYTES) return { status: 'error', message: `node id longer than ${MAX_NODE_ID_BYTES} bytes` };
    if (idPart.length > 0 && !NODE_ID_PATTERN.test(idPart.toString('latin1'))) {
      return { status: 'error', message: 'node id has a character outside [A-Za-z0-9_-]' };
    }
    return { status: 'incomplete' };
  }
  const idError = checkNodeId(buf.subarray(0, colon));
  if (idError) return { status: 'error', message: idError };
  const portPart = buf.subarray(colon + 1, end).toString('latin1');
  if (portPart.length === 0) {
    return brace === -1 ? { status: 'incomplete' } : { status: 'error', message: 'id line has no port (expected <id>:<port>)' };
  }
  if (portPart.includes(':')) return { status: 'error', message: 'id line has more than one ":" (node ids never contain ":")' };
  if (!/^[0-9]+$/.test(portPart)) return { status: 'error', message: 'port of the id line is not a decimal number' };
  if (portPart.length > MAX_PORT_DIGITS || Number(portPart) > MAX_PORT) return { status: 'error', message: `port of the id line is above ${MAX_PORT}` };
  return { status: 'ok', nodeId: buf.subarray(0, colon).toString('latin1'), port: Number(portPart), rest: buf.subarray(end) };
}

/**
 * Parses the acceptor's bare `<nodeId>` as the dialer receives it: the whole
 * first chunk (python-p2p-network: one `recv`), or the bytes before a `{`
 * when a JSON message follows in the same chunk.
 */
export function parseIdReply(buf: Buffer): { status: 'ok'; nodeId: string; rest: Buffer } | { status: 'error'; message: string } {
  const brace = buf.indexOf(OPEN_BRACE);
  const id = brace === -1 ? buf : buf.subarray(0, brace);
  const err = checkNodeId(id);
  if (err) return { status: 'error', message: buf.includes(COLON) ? 'id reply must be a bare node id (no ":")' : err };
  return { status: 'ok', nodeId: id.toString('latin1'), rest: buf.subarray(id.length) };
}

/** The id line a dialer sends: `<nodeId>:<listenPort>` in Latin-1 (node ids are ASCII). */
export function idLine(nodeId: string, listenPort: number): Buffer {
  return Buffer.from(`${nodeId}:${listenPort}`, 'latin1');
}
