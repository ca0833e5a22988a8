import type { Compression, FrameError } from './framing.js';
import type { Node } from './node.js';
import type { Direction, Frame, WireConnection, WireCounters } from './wire-connection.js';

/*
 * python-p2p-network 1.2's `NodeConnection` (source document 002): one
 * connection of a `Node` with another node, after the id exchange. It sends
 * data the way the Python class does and hands every message it receives to
 * its main node (`node_message`). Extend it and return your subclass from
 * `Node.createNewConnection` to change how packets are parsed or to keep
 * per-connection state.
 */

/** A JSON value, as `JSON.parse` returns it and `JSON.stringify` sends it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * What a node sends and receives. A string is sent as its UTF-8 text; bytes
 * as they are; anything else as JSON text (python-p2p-network sends a `dict`
 * as `json.dumps(dict)`). On receipt a frame is parsed as JSON when it is
 * JSON and delivered as a string otherwise, as `NodeConnection.parse_packet`
 * does: the string `"42"` sent raw therefore arrives as the number 42.
 */
export type NodeMessage = JsonValue;

/** Refusal of {@link NodeConnection.send}: the data is not a string, bytes or a JSON value. */
export class NodeMessageTypeError extends TypeError {
  override readonly name = 'NodeMessageTypeError';
  readonly code = 'ERR_P2P_MESSAGE_TYPE';
  constructor(what: string) {
    super(`data must be a string, a Uint8Array or a JSON value, got ${what}`);
  }
}

/** The text sent for `data`: strings and bytes as they are, other values as JSON. @throws NodeMessageTypeError */
export function encodeNodeMessage(data: NodeMessage | Uint8Array): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new NodeMessageTypeError(`a value JSON cannot encode (${(err as Error).message})`);
  }
  if (text === undefined) throw new NodeMessageTypeError(typeof data);
  return text;
}

/** Python's `parse_packet`: JSON when the text is JSON, the text itself otherwise. */
export function parseNodeMessage(text: string): NodeMessage {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/**
 * One connection of a {@link Node}. Created by the node once the id exchange
 * is done (see {@link Node.createNewConnection}); never emits anything by
 * itself: every event is the main node's.
 */
export class NodeConnection {
  /** The node this connection belongs to (python `main_node`). */
  readonly mainNode: Node;
  /** The other node's id, from the id exchange. */
  readonly id: string;
  /** The other node's host: the address it was dialled at (outbound) or its socket's address (inbound). */
  readonly host: string;
  /** The other node's port: the port dialled (outbound) or the listen port of its id line (inbound), as python-p2p-network keeps them. */
  readonly port: number;
  /** `inbound` when the other node dialled us. */
  readonly direction: Direction;
  /** The wire under this connection (framing, counters, the socket). */
  protected readonly wire: WireConnection;
  private readonly infoMap = new Map<string, unknown>();

  constructor(mainNode: Node, wire: WireConnection, id: string, host: string, port: number) {
    this.mainNode = mainNode;
    this.wire = wire;
    this.id = id;
    this.host = host;
    this.port = port;
    this.direction = wire.direction;
    mainNode.debugPrint(`NodeConnection: Started with client (${id}) '${host}:${port}'`);
  }

  /** Bytes and frames in both directions (see `WireCounters`). */
  get counters(): Readonly<WireCounters> {
    return this.wire.counters;
  }

  /** Whether the connection can still send (not stopping or stopped). */
  get isOpen(): boolean {
    return this.wire.phase === 'open';
  }

  /**
   * Sends one message (python `send(data, compression=...)`): a string as
   * its text, bytes as they are, other values as JSON, followed by 0x04, or
   * compressed with `zlib` as python-p2p-network does. Returns false when
   * the connection is stopping (the message is dropped) or the socket is
   * above its high-water mark.
   * @throws NodeMessageTypeError when `data` is none of those.
   * @throws FrameError `frame-too-large`, `empty-frame`, or `unsupported-compression` for `bzip2`/`lzma`.
   */
  send(data: NodeMessage | Uint8Array, compression: Compression = 'none'): boolean {
    const payload = encodeNodeMessage(data);
    if (this.wire.phase !== 'open') return false;
    const ok = this.wire.sendFrame(payload, compression);
    if (this.wire.sendBufferedBytes > this.mainNode.maxSendBufferBytes) {
      this.mainNode.debugPrint(`NodeConnection: more than ${this.mainNode.maxSendBufferBytes} bytes queued for ${this.id}, which does not read; stopping`);
      this.stop();
      return false;
    }
    return ok;
  }

  /** Resolves when the send buffer has drained, or at once. */
  drain(): Promise<void> {
    return this.wire.drain();
  }

  /** Ends the connection (python `stop`): pending data is flushed, then the main node sees `*_node_disconnected`. Idempotent. */
  stop(): void {
    this.wire.end();
  }

  /** Stores application data on the connection (python `set_info`). */
  setInfo(key: string, value: unknown): void {
    this.infoMap.set(key, value);
  }

  /** Reads application data stored with {@link setInfo} (python `get_info`). */
  getInfo(key: string): unknown {
    return this.infoMap.get(key);
  }

  /**
   * Turns one frame into a message (python `parse_packet`); override to
   * parse differently. The default is {@link parseNodeMessage}.
   */
  protected parsePacket(text: string): NodeMessage {
    return parseNodeMessage(text);
  }

  /** @internal called by the main node for every frame received. */
  receiveFrame(frame: Frame): void {
    this.mainNode.messageCountRecv++;
    this.mainNode.receiveMessage(this, this.parsePacket(frame.text), frame.text);
  }

  /** @internal called by the main node for every refused frame. */
  receiveFrameError(error: FrameError): void {
    this.mainNode.messageCountRerr++;
    this.mainNode.refuseMessage(this, error);
    if (error.fatal) this.stop();
  }

  toString(): string {
    return `NodeConnection: ${this.mainNode.host}:${this.mainNode.port} <-> ${this.host}:${this.port} (${this.id})`;
  }
}
