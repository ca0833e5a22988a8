import { createHash, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { openSocket } from './dial.js';
import { CONNECT_TIMEOUT_MS, ID_EXCHANGE_TIMEOUT_MS, ID_REPLY_HOLD_MS, MAX_FRAME_BYTES, MAX_PORT, MAX_SEND_BUFFER_BYTES, NODE_ID_PATTERN } from './constants.js';
import type { Compression, FrameError } from './framing.js';
import { NodeConnection, type NodeMessage } from './node-connection.js';
import { WireConnection, type Direction, type Frame, type WireHandler } from './wire-connection.js';

/*
 * python-p2p-network 1.2's `Node` (source document 002) in TypeScript: a
 * node listens for other nodes, connects with them, and sends and receives
 * messages. The two ways of the Python library both work:
 *
 *   1. extend `Node` (and `NodeConnection`) and override the event methods
 *      (`outboundNodeConnected`, `nodeMessage`, ...), or
 *   2. pass a `callback(event, mainNode, connectedNode, data)`.
 *
 * Every event is also emitted under its Python name (`node.on('node_message',
 * ...)`). The wire is byte-compatible with the Python library in both
 * directions; what this class does differently is listed in docs/p2p.md.
 */

/** The seven events of python-p2p-network, with the library's names (document 002). */
export const NODE_EVENTS = [
  'outbound_node_connected',
  'inbound_node_connected',
  'outbound_node_disconnected',
  'inbound_node_disconnected',
  'node_message',
  'node_disconnect_with_outbound_node',
  'node_request_to_stop',
] as const;

export type NodeEventName = (typeof NODE_EVENTS)[number];

/**
 * Events of a {@link Node}: the seven of document 002 and one this library
 * adds.
 *
 * - `outbound_node_connected`: we connected with another node and the ids are exchanged.
 * - `inbound_node_connected`: another node connected with us and the ids are exchanged.
 * - `outbound_node_disconnected` / `inbound_node_disconnected`: that connection ended,
 *   exactly once, whoever ended it (a clean remote close included, which the
 *   Python library missed).
 * - `node_message`: a node sent a message (JSON when it parses as JSON, else the string).
 * - `node_disconnect_with_outbound_node`: the application is disconnecting an outbound
 *   node ({@link Node.disconnectWithNode}); a last message can still be sent.
 * - `node_request_to_stop`: the node is stopping ({@link Node.stop}); no connection involved.
 * - `node_message_refused`: a frame or message was refused and dropped (a bad
 *   frame, or for a `SecureNode` an unsigned or tampered message); the error is typed.
 */
export interface NodeEvents {
  outbound_node_connected: [node: NodeConnection];
  inbound_node_connected: [node: NodeConnection];
  outbound_node_disconnected: [node: NodeConnection];
  inbound_node_disconnected: [node: NodeConnection];
  node_message: [node: NodeConnection, data: NodeMessage];
  node_disconnect_with_outbound_node: [node: NodeConnection];
  node_request_to_stop: [];
  node_message_refused: [node: NodeConnection, error: Error];
}

/**
 * python-p2p-network's callback: `callback(event, main_node, connected_node, data)`.
 * `connectedNode` is undefined for `node_request_to_stop`; `data` is the
 * message for `node_message` and `{}` otherwise, as in the Python library.
 */
export type NodeCallback = (event: NodeEventName, mainNode: Node, connectedNode: NodeConnection | undefined, data: NodeMessage) => void;

/** Options of a {@link Node} (python `Node(host, port, id=None, callback=None, max_connections=0)`). */
export interface NodeInit {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on, 0 for any free port (read {@link Node.port} after {@link Node.start}). @default 0 */
  port?: number;
  /** Node id (`[A-Za-z0-9_-]`, 1 to 128 characters). @default a SHA-512 hex digest of host, port and a random number, as python's `generate_id` */
  id?: string;
  callback?: NodeCallback;
  /** Most inbound connections at once; 0 for no limit (python `max_connections`). @default 0 */
  maxConnections?: number;
  /** Print debug messages (python `node.debug = True`). @default false */
  debug?: boolean;
  /** Where debug lines go. @default console.log */
  debugWriter?: (line: string) => void;
  /** Largest frame sent or accepted, bytes. @default MAX_FRAME_BYTES (4,000,000) */
  maxFrameBytes?: number;
  /** Most bytes queued for one node that does not read before it is disconnected. @default MAX_SEND_BUFFER_BYTES (16,000,000) */
  maxSendBufferBytes?: number;
  /** Time allowed for a TCP connect, ms. @default CONNECT_TIMEOUT_MS (5000) */
  connectTimeoutMs?: number;
  /** Time allowed for the id exchange, ms. @default ID_EXCHANGE_TIMEOUT_MS (5000) */
  idExchangeTimeoutMs?: number;
  /** Pause between two checks of the nodes to reconnect with, ms. @default 5000 */
  reconnectIntervalMs?: number;
}

/** @default 5000 — pause between two checks of the reconnection list, ms (python checks it after each accept timeout of 10 s, or each accept). */
export const RECONNECT_INTERVAL_MS = 5_000;

/** A node that connects with nodes speaking python-p2p-network 1.2; see the module comment. */
export class Node extends EventEmitter<NodeEvents> {
  /** Interface the node listens on. */
  readonly host: string;
  /** This node's id, sent in the id exchange. */
  readonly id: string;
  /** Connections other nodes made with us. */
  readonly nodesInbound: NodeConnection[] = [];
  /** Connections we made with other nodes. */
  readonly nodesOutbound: NodeConnection[] = [];
  /** Nodes to reconnect with when their connection is lost (python `reconnect_to_nodes`). */
  readonly reconnectToNodes: { host: string; port: number; trials: number }[] = [];
  /** Print debug messages (python `debug`). */
  debug: boolean;
  /** Most inbound connections at once, 0 for no limit. */
  maxConnections: number;
  /** Messages sent, one per connection a message went to. */
  messageCountSend = 0;
  /** Messages received. */
  messageCountRecv = 0;
  /** Frames received that were refused (python `message_count_rerr`). */
  messageCountRerr = 0;
  /** Most bytes queued for one node before it is disconnected. */
  readonly maxSendBufferBytes: number;
  protected readonly callback: NodeCallback | undefined;
  private portValue: number;
  private readonly debugWriter: (line: string) => void;
  private readonly maxFrameBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly idTimeoutMs: number;
  private readonly reconnectIntervalMs: number;
  private server: Server | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private readonly pending = new Set<WireConnection>();
  private readonly live = new Set<NodeConnection>();
  private readonly closedWaiters = new Map<NodeConnection, Promise<void>>();

  /** @throws RangeError for an option out of range (the message names it). */
  constructor(init: NodeInit = {}) {
    super();
    this.host = init.host ?? '127.0.0.1';
    const port = init.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) throw new RangeError(`options.port must be an integer from 0 to ${MAX_PORT}`);
    this.portValue = port;
    this.id = init.id ?? generateId(this.host, port);
    if (!NODE_ID_PATTERN.test(this.id)) throw new RangeError('options.id must be 1 to 128 characters of [A-Za-z0-9_-]');
    const maxConnections = init.maxConnections ?? 0;
    if (!Number.isInteger(maxConnections) || maxConnections < 0) throw new RangeError('options.maxConnections must be a non-negative integer');
    this.maxConnections = maxConnections;
    this.callback = init.callback;
    this.debug = init.debug ?? false;
    this.debugWriter = init.debugWriter ?? ((line) => console.log(line));
    this.maxFrameBytes = positive('maxFrameBytes', init.maxFrameBytes ?? MAX_FRAME_BYTES);
    this.maxSendBufferBytes = positive('maxSendBufferBytes', init.maxSendBufferBytes ?? MAX_SEND_BUFFER_BYTES);
    this.connectTimeoutMs = positive('connectTimeoutMs', init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    this.idTimeoutMs = positive('idExchangeTimeoutMs', init.idExchangeTimeoutMs ?? ID_EXCHANGE_TIMEOUT_MS);
    this.reconnectIntervalMs = positive('reconnectIntervalMs', init.reconnectIntervalMs ?? RECONNECT_INTERVAL_MS);
  }

  /** The port the node listens on (the bound one after {@link start} when 0 was asked). */
  get port(): number {
    return this.portValue;
  }

  /** Every connection, inbound first (python `all_nodes`). */
  get allNodes(): NodeConnection[] {
    return [...this.nodesInbound, ...this.nodesOutbound];
  }

  /** Prints `DEBUG (<id>): <message>` when {@link debug} is on (python `debug_print`). */
  debugPrint(message: string): void {
    if (this.debug) this.debugWriter(`DEBUG (${this.id}): ${message}`);
  }

  /** Prints how many nodes are connected (python `print_connections`). */
  printConnections(): void {
    this.debugWriter(`Node connection overview:\n- Total nodes connected with us: ${this.nodesInbound.length}\n- Total nodes connected to     : ${this.nodesOutbound.length}`);
  }

  /**
   * Starts listening for other nodes (python `start()`, with the binding
   * python's constructor does).
   * @throws Error when the port cannot be bound (the socket's error, e.g. EADDRINUSE).
   */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portValue, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (typeof address === 'object' && address) this.portValue = address.port;
    server.on('error', (err) => this.debugPrint(`Node: accept error (${err.message})`));
    this.debugPrint(`Initialisation of the Node on port: ${this.portValue} on node (${this.id})`);
    this.reconnectTimer = setInterval(() => this.reconnectNodes(), this.reconnectIntervalMs);
    this.reconnectTimer.unref();
  }

  /**
   * Stops the node (python `stop()` then `join()`): `node_request_to_stop`,
   * then every connection ends (each with its `*_node_disconnected`) and the
   * listener closes. Resolves when all are closed. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.nodeRequestToStop();
    clearInterval(this.reconnectTimer);
    this.reconnectToNodes.length = 0;
    const server = this.server;
    const serverClosed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const w of this.pending) w.destroy();
    const conns = [...this.live].map((c) => {
      c.stop();
      return this.closedWaiters.get(c) ?? Promise.resolve();
    });
    this.stopping = Promise.all([serverClosed, ...conns]).then(() => this.debugPrint('Node stopped'));
    return this.stopping;
  }

  /**
   * Sends `data` to every connected node except those in `exclude` (python
   * `send_to_nodes(data, exclude=[], compression='none')`).
   * @throws see {@link NodeConnection.send}.
   */
  sendToNodes(data: NodeMessage | Uint8Array, exclude: readonly NodeConnection[] = [], compression: Compression = 'none'): void {
    for (const n of this.allNodes) {
      if (exclude.includes(n)) this.debugPrint('Node send_to_nodes: Excluding node in sending the message');
      else this.sendToNode(n, data, compression);
    }
  }

  /**
   * Sends `data` to one connected node (python `send_to_node`). Returns false
   * when the node is not connected with us (nothing is sent) or the send
   * could not be queued (see {@link NodeConnection.send}).
   */
  sendToNode(node: NodeConnection, data: NodeMessage | Uint8Array, compression: Compression = 'none'): boolean {
    if (!this.live.has(node)) {
      this.debugPrint('Node send_to_node: Could not send the data, node is not found!');
      return false;
    }
    this.messageCountSend++;
    return node.send(data, compression);
  }

  /**
   * Connects with another node (python `connect_with_node(host, port,
   * reconnect=False)`). Resolves true when connected, or when already
   * connected with that node; false when the connection failed or the other
   * node is ourselves (the reason is in the debug output). With
   * `reconnect`, the node is dialled again whenever the connection is lost,
   * while {@link nodeReconnectionError} returns true.
   */
  async connectWithNode(host: string, port: number, options: { reconnect?: boolean } = {}): Promise<boolean> {
    if (host === this.host && port === this.portValue) {
      this.debugPrint('connect_with_node: Cannot connect with yourself!!');
      return false;
    }
    const existing = this.nodesOutbound.find((n) => n.host === host && n.port === port);
    if (existing) {
      this.debugPrint(`connect_with_node: Already connected with this node (${existing.id}).`);
      return true;
    }
    if (this.stopping) return false;
    this.debugPrint(`connecting to ${host} port ${port}`);
    let socket: Socket;
    try {
      socket = await openSocket(host, port, this.connectTimeoutMs);
    } catch (err) {
      this.debugPrint(`TcpServer.connect_with_node: Could not connect with node. (${(err as Error).message})`);
      return false;
    }
    const result = await new Promise<NodeConnection | string>((resolve) => {
      this.openWire(socket, 'outbound', host, port, resolve);
    });
    if (typeof result === 'string') {
      this.debugPrint(`TcpServer.connect_with_node: Could not connect with node. (${result})`);
      return result === 'self' || result === 'duplicate';
    }
    if (options.reconnect && !this.reconnectToNodes.some((r) => r.host === host && r.port === port)) {
      this.debugPrint(`connect_with_node: Reconnection check is enabled on node ${host}:${port}`);
      this.reconnectToNodes.push({ host, port, trials: 0 });
    }
    return true;
  }

  /**
   * Disconnects an outbound node (python `disconnect_with_node`):
   * `node_disconnect_with_outbound_node`, then the connection ends. An
   * inbound node cannot be disconnected this way (python's rule): call
   * `node.stop()`.
   */
  disconnectWithNode(node: NodeConnection): void {
    if (this.nodesOutbound.includes(node)) {
      this.nodeDisconnectWithOutboundNode(node);
      node.stop();
    } else {
      this.debugPrint('Node disconnect_with_node: cannot disconnect with a node with which we are not connected.');
    }
  }

  /**
   * Makes the connection object for a new connection (python
   * `create_new_connection`); override to return your own `NodeConnection`
   * subclass.
   */
  protected createNewConnection(wire: WireConnection, id: string, host: string, port: number): NodeConnection {
    return new NodeConnection(this, wire, id, host, port);
  }

  // ---------------------------------------------------------------------------
  // Events: override these (option 1 of the Python library) or pass a callback
  // (option 2). Each default prints its debug line, calls the callback and
  // emits the event of the same name.

  /** We connected with another node. */
  protected outboundNodeConnected(node: NodeConnection): void {
    this.debugPrint(`outbound_node_connected: ${node.id}`);
    this.fire('outbound_node_connected', node, {});
    this.emit('outbound_node_connected', node);
  }

  /** Another node connected with us. */
  protected inboundNodeConnected(node: NodeConnection): void {
    this.debugPrint(`inbound_node_connected: ${node.id}`);
    this.fire('inbound_node_connected', node, {});
    this.emit('inbound_node_connected', node);
  }

  /** A node we connected with is disconnected. */
  protected outboundNodeDisconnected(node: NodeConnection): void {
    this.debugPrint(`outbound_node_disconnected: ${node.id}`);
    this.fire('outbound_node_disconnected', node, {});
    this.emit('outbound_node_disconnected', node);
  }

  /** A node that connected with us is disconnected. */
  protected inboundNodeDisconnected(node: NodeConnection): void {
    this.debugPrint(`inbound_node_disconnected: ${node.id}`);
    this.fire('inbound_node_disconnected', node, {});
    this.emit('inbound_node_disconnected', node);
  }

  /** A node sent a message. */
  protected nodeMessage(node: NodeConnection, data: NodeMessage): void {
    this.debugPrint(`node_message: ${node.id}: ${typeof data === 'string' ? data : JSON.stringify(data)}`);
    this.fire('node_message', node, data);
    this.emit('node_message', node, data);
  }

  /** The application is disconnecting an outbound node; it can still be sent a last message. */
  protected nodeDisconnectWithOutboundNode(node: NodeConnection): void {
    this.debugPrint(`node wants to disconnect with oher outbound node: ${node.id}`);
    this.fire('node_disconnect_with_outbound_node', node, {});
    this.emit('node_disconnect_with_outbound_node', node);
  }

  /** The node is stopping. */
  protected nodeRequestToStop(): void {
    this.debugPrint('node is requested to stop!');
    this.fire('node_request_to_stop', undefined, {});
    this.emit('node_request_to_stop');
  }

  /**
   * A node of the reconnection list is not connected: return true to dial
   * it again, false to drop it from the list (python `node_reconnection_error`).
   * `trials` counts the checks that found it disconnected in a row.
   */
  protected nodeReconnectionError(host: string, port: number, trials: number): boolean {
    this.debugPrint(`node_reconnection_error: Reconnecting to node ${host}:${port} (trials: ${trials})`);
    return true;
  }

  /**
   * A received message on its way to {@link nodeMessage}, with the text of
   * its frame. `SecureNode` overrides it to verify messages first.
   * @internal called by `NodeConnection`.
   */
  receiveMessage(node: NodeConnection, data: NodeMessage, _text: string): void {
    this.nodeMessage(node, data);
  }

  /** A refused frame or message: counted by the caller, printed and emitted as `node_message_refused`. @internal */
  refuseMessage(node: NodeConnection, error: Error): void {
    this.debugPrint(`node_message_refused: ${node.id}: ${error.message}`);
    this.emit('node_message_refused', node, error);
  }

  override toString(): string {
    return `Node: ${this.host}:${this.portValue}`;
  }

  // ---------------------------------------------------------------------------
  // Internals

  private fire(event: NodeEventName, node: NodeConnection | undefined, data: NodeMessage): void {
    if (this.callback) this.callback(event, this, node, data);
  }

  private accept(socket: Socket): void {
    this.debugPrint(`Total inbound connections:${this.nodesInbound.length}`);
    if (this.stopping || (this.maxConnections !== 0 && this.nodesInbound.length >= this.maxConnections)) {
      this.debugPrint('New connection is closed. You have reached the maximum connection limit!');
      socket.destroy();
      return;
    }
    this.openWire(socket, 'inbound', socket.remoteAddress ?? '', socket.remotePort ?? 0);
  }

  /**
   * Runs the id exchange on a socket and, when it completes, makes the
   * connection. `done` (outbound) hears the connection or why there is none.
   */
  private openWire(socket: Socket, direction: Direction, host: string, port: number, done?: (r: NodeConnection | string) => void): void {
    let conn: NodeConnection | undefined;
    let settle = done;
    const finish = (r: NodeConnection | string): void => {
      const s = settle;
      settle = undefined;
      s?.(r);
    };
    let wire: WireConnection;
    let closedResolve: (() => void) | undefined;
    const timer = setTimeout(() => {
      finish(`no id exchange within ${this.idTimeoutMs} ms`);
      wire.destroy();
    }, this.idTimeoutMs);
    timer.unref();
    const handler: WireHandler = {
      onIdExchanged: (id, idLinePort) => {
        clearTimeout(timer);
        this.pending.delete(wire);
        if (direction === 'outbound') {
          if (id === this.id) {
            this.debugPrint('connect_with_node: You cannot connect with yourself?!');
            finish('self');
            wire.end();
            return;
          }
          const dup = this.nodesInbound.find((n) => n.host === host && n.id === id);
          if (dup) {
            this.debugPrint(`connect_with_node: This node (${dup.id}) is already connected with us.`);
            finish('duplicate');
            wire.end();
            return;
          }
        }
        const c = this.createNewConnection(wire, id, host, idLinePort ?? port);
        conn = c;
        this.live.add(c);
        this.closedWaiters.set(c, new Promise<void>((resolve) => (closedResolve = resolve)));
        if (direction === 'outbound') {
          this.nodesOutbound.push(c);
          finish(c);
          this.outboundNodeConnected(c);
        } else {
          this.nodesInbound.push(c);
          this.inboundNodeConnected(c);
        }
      },
      onIdError: (message) => {
        this.debugPrint(`Node: id exchange failed with ${host}:${port} (${message})`);
        finish(`bad id exchange: ${message}`);
        wire.end();
      },
      onFrame: (frame: Frame) => conn?.receiveFrame(frame),
      onFrameError: (error: FrameError) => conn?.receiveFrameError(error),
      onRemoteEnd: () => undefined,
      onSocketError: (err) => this.debugPrint(`NodeConnection: socket error (${err.message})`),
      onClose: () => {
        clearTimeout(timer);
        this.pending.delete(wire);
        finish('the connection closed during the id exchange');
        if (conn) this.nodeDisconnected(conn);
        closedResolve?.();
      },
    };
    wire = new WireConnection({
      socket,
      direction,
      nodeId: this.id,
      listenPort: this.portValue,
      handler,
      maxFrameBytes: this.maxFrameBytes,
      holdAfterIdReplyMs: ID_REPLY_HOLD_MS,
    });
    this.pending.add(wire);
  }

  /** python `node_disconnected`: removes the connection from its list and fires the matching event. */
  private nodeDisconnected(node: NodeConnection): void {
    this.live.delete(node);
    this.closedWaiters.delete(node);
    this.debugPrint('NodeConnection: Stopped');
    const inIdx = this.nodesInbound.indexOf(node);
    if (inIdx !== -1) {
      this.nodesInbound.splice(inIdx, 1);
      this.inboundNodeDisconnected(node);
    }
    const outIdx = this.nodesOutbound.indexOf(node);
    if (outIdx !== -1) {
      this.nodesOutbound.splice(outIdx, 1);
      this.outboundNodeDisconnected(node);
    }
  }

  /** python `reconnect_nodes`. */
  private reconnectNodes(): void {
    for (const entry of [...this.reconnectToNodes]) {
      this.debugPrint(`reconnect_nodes: Checking node ${entry.host}:${entry.port}`);
      if (this.nodesOutbound.some((n) => n.host === entry.host && n.port === entry.port)) {
        entry.trials = 0;
        this.debugPrint(`reconnect_nodes: Node ${entry.host}:${entry.port} still running!`);
        continue;
      }
      entry.trials++;
      if (this.nodeReconnectionError(entry.host, entry.port, entry.trials)) {
        void this.connectWithNode(entry.host, entry.port);
      } else {
        this.debugPrint(`reconnect_nodes: Removing node (${entry.host}:${entry.port}) from the reconnection list!`);
        const i = this.reconnectToNodes.indexOf(entry);
        if (i !== -1) this.reconnectToNodes.splice(i, 1);
      }
    }
  }
}

/** python-p2p-network's `generate_id`: SHA-512 hex of host, port and a random number. */
export function generateId(host: string, port: number): string {
  return createHash('sha512').update(`${host}${port}${randomInt(1, 100_000_000)}`).digest('hex');
}

function positive(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`options.${name} must be a positive integer`);
  return n;
}
