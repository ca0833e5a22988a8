/**
 * Helpers of the transport tests: a raw `net.Socket` peer that behaves like
 * python-p2p-network (sends `ID:PORT`, reads the bare id as one chunk, then
 * 0x04-framed JSON), listeners and dialers with recorded events.
 */
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';
import { NODE_EVENTS } from '../../src/p2p/node.js';
import { networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS } from '../../src/core/params.js';
import type { ChainStatus, DisconnectInfo, PeerConnection, PeerConnectionEvents } from '../../src/transport/connection.js';
import { FrameDecoder } from '../../src/transport/frame-decoder.js';
import { PROTOCOL_VERSION } from '../../src/transport/limits.js';
import { decodeMessage, encodeMessage, messageToJson, type HelloPayload, type Message } from '../../src/transport/messages.js';
import { dial, listen, type ConnectionOptions, type DialInit, type ListenInit, type PeerListener } from '../../src/transport/tcp.js';

/** Regtest network id, display hex. */
export const NET = hashToHex(networkId(NETWORKS.regtest));
/** Another network's id (devnet), for wrong-network tests. */
export const OTHER_NET = hashToHex(networkId(NETWORKS.devnet));
export const H = (n: number): string => n.toString(16).padStart(64, '0');

export const STATUS: ChainStatus = { height: 7, tip: H(7), chainWork: 0x10n };
export const status = (): ChainStatus => STATUS;

/** The python-p2p-network events a connection emits: the library's seven but `node_request_to_stop` (the listener's). */
export const EVENT_NAMES = NODE_EVENTS.filter((e): e is Exclude<(typeof NODE_EVENTS)[number], 'node_request_to_stop'> => e !== 'node_request_to_stop') satisfies readonly (keyof PeerConnectionEvents)[];

/** Every event of one connection, counted, with the messages and the disconnect info. */
export class Recorder {
  readonly counts: Record<(typeof EVENT_NAMES)[number], number> = {
    outbound_node_connected: 0,
    inbound_node_connected: 0,
    outbound_node_disconnected: 0,
    inbound_node_disconnected: 0,
    node_message: 0,
    node_disconnect_with_outbound_node: 0,
  };
  readonly messages: Message[] = [];
  readonly order: string[] = [];
  info: DisconnectInfo | undefined;
  private messageWaiters: { n: number; resolve: () => void }[] = [];

  constructor(readonly conn: PeerConnection) {
    for (const name of EVENT_NAMES) {
      conn.on(name, ((...args: unknown[]) => {
        this.counts[name]++;
        this.order.push(name);
        if (name === 'node_message') {
          this.messages.push(args[1] as Message);
          this.messageWaiters = this.messageWaiters.filter((w) => (this.messages.length >= w.n ? (w.resolve(), false) : true));
        }
        if (name.endsWith('_node_disconnected')) this.info = args[1] as DisconnectInfo;
      }) as never);
    }
  }

  /** Resolves once `n` messages have been received in total. */
  messagesCount(n: number): Promise<Message[]> {
    if (this.messages.length >= n) return Promise.resolve(this.messages);
    return new Promise((resolve) => this.messageWaiters.push({ n, resolve: () => resolve(this.messages) }));
  }

  /** Resolves with the disconnect info once the connection has ended and a later turn of the event loop has passed (to catch duplicate events). */
  async ended(): Promise<DisconnectInfo> {
    const info = await this.conn.closed;
    await new Promise((r) => setImmediate(r));
    return info;
  }
}

/** A listener whose accepted connections are recorded; closed at teardown. */
export async function startListener(
  t: Test,
  overrides: Partial<ListenInit> & { nodeId?: string } = {},
): Promise<{ listener: PeerListener; accepted: Recorder[]; nextConnection: () => Promise<Recorder> }> {
  const accepted: Recorder[] = [];
  let waiters: ((r: Recorder) => void)[] = [];
  const listener = await listen({
    port: 0,
    nodeId: 'server',
    network: NET,
    status,
    onConnection: (conn) => {
      const r = new Recorder(conn);
      accepted.push(r);
      const w = waiters;
      waiters = [];
      for (const f of w) f(r);
    },
    ...overrides,
  });
  t.teardown(() => listener.close());
  let taken = 0;
  const nextConnection = (): Promise<Recorder> => {
    if (accepted.length > taken) return Promise.resolve(accepted[taken++]!);
    return new Promise((resolve) => waiters.push((r) => (taken++, resolve(r))));
  };
  return { listener, accepted, nextConnection };
}

/** Dials and records; the connection is closed at teardown. */
export async function dialRecorded(t: Test, init: Partial<DialInit> & { port: number }): Promise<Recorder> {
  const conn = await dial({ host: '127.0.0.1', nodeId: 'client', listenPort: 0, network: NET, status, ...init });
  const r = new Recorder(conn);
  t.teardown(() => conn.close());
  return r;
}

export function helloPayload(nodeId: string, over: Partial<HelloPayload> = {}): HelloPayload {
  return { version: PROTOCOL_VERSION, network: NET, height: 0, tip: NET, chainWork: 2n, time: Math.floor(Date.now() / 1000), nodeId, port: 9000, ...over };
}

/** The frame of a message, as bytes. */
export function frame(m: Message): Buffer {
  return encodeMessage(m);
}

/** A JSON text framed with 0x04 (for frames that are not valid messages). */
export function rawFrame(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.of(0x04)]);
}

export type RawEvent = { type: 'message'; message: Message } | { type: 'bad'; text: string } | { type: 'closed' };

/**
 * A raw TCP peer in the manner of python-p2p-network: `sendId()` writes
 * `ID:PORT`, `readId()` returns the first chunk received (the library reads the
 * id with one `recv`), then messages are 0x04-framed JSON.
 */
export class RawPeer {
  readonly socket: Socket;
  private firstChunk: Buffer | undefined;
  private firstWaiters: ((b: Buffer) => void)[] = [];
  private readonly decoder = new FrameDecoder();
  private readonly events: RawEvent[] = [];
  private eventWaiters: ((e: RawEvent) => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => undefined); // resets are expected in misbehaviour tests
    socket.on('data', (chunk: Buffer) => {
      if (!this.firstChunk) {
        // python-p2p-network takes the whole first recv() as the id; we keep it whole for
        // assertions, and (like cheesechain's dialer) split it at a '{' so a reply glued
        // after the id by an eager client's own fault is not lost.
        this.firstChunk = chunk;
        const brace = chunk.indexOf(0x7b);
        const id = brace === -1 ? chunk : chunk.subarray(0, brace);
        for (const w of this.firstWaiters.splice(0)) w(id);
        if (brace === -1) return;
        chunk = chunk.subarray(brace);
      }
      for (const r of this.decoder.push(chunk)) {
        if (r.type === 'error') this.deliver({ type: 'bad', text: r.error.reason });
        else {
          const d = decodeMessage(r.text);
          this.deliver(d.ok ? { type: 'message', message: d.message } : { type: 'bad', text: r.text });
        }
      }
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.deliver({ type: 'closed' });
        resolve();
      }),
    );
  }

  static connect(t: Test, port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const p = new RawPeer(socket);
        t.teardown(() => socket.destroy());
        resolve(p);
      });
    });
  }

  private deliver(e: RawEvent): void {
    const w = this.eventWaiters.shift();
    if (w) w(e);
    else this.events.push(e);
  }

  /** Writes bytes; resolves when they are handed to the kernel. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  sendId(nodeId: string, port: number): Promise<void> {
    return this.write(`${nodeId}:${port}`);
  }

  send(m: Message): Promise<void> {
    return this.write(frame(m));
  }

  /** The first chunk received, exactly as one `recv` would return it (undefined before it). */
  get firstChunkRaw(): string | undefined {
    return this.firstChunk?.toString('utf8');
  }

  /** The id read from the first chunk (the bytes before a `{`, if any). */
  readId(): Promise<string> {
    if (this.firstChunk) {
      const brace = this.firstChunk.indexOf(0x7b);
      return Promise.resolve((brace === -1 ? this.firstChunk : this.firstChunk.subarray(0, brace)).toString('utf8'));
    }
    return new Promise((resolve) => this.firstWaiters.push((b) => resolve(b.toString('utf8'))));
  }

  /** The next framed message (or a bad frame, or the close). */
  next(): Promise<RawEvent> {
    const e = this.events.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => this.eventWaiters.push(resolve));
  }

  /** The next event, which must be a message with `method`. */
  async expect<M extends Message['method']>(method: M): Promise<Extract<Message, { method: M }>> {
    const e = await this.next();
    if (e.type !== 'message' || e.message.method !== method) {
      throw new Error(`expected ${method}, got ${e.type === 'message' ? messageToJson(e.message).slice(0, 200) : JSON.stringify(e)}`);
    }
    return e.message as Extract<Message, { method: M }>;
  }

  /** Runs the dialer's side of the whole handshake; returns the acceptor's HELLO. */
  async handshake(nodeId: string, port = 9000, over: Partial<HelloPayload> = {}): Promise<HelloPayload> {
    await this.sendId(nodeId, port);
    await this.readId();
    await this.send({ method: 'HELLO', payload: helloPayload(nodeId, { port, ...over }) });
    await this.expect('HEY');
    const hello = await this.expect('HELLO');
    await this.send({ method: 'HEY', payload: helloPayload(nodeId, { port, ...over }) });
    return hello.payload;
  }

  /** Waits for the close, skipping messages; returns the last REJECT seen. */
  async untilClosed(): Promise<Extract<Message, { method: 'REJECT' }>['payload'] | undefined> {
    let reject: Extract<Message, { method: 'REJECT' }>['payload'] | undefined;
    for (;;) {
      const e = await this.next();
      if (e.type === 'closed') return reject;
      if (e.type === 'message' && e.message.method === 'REJECT') reject = e.message.payload;
    }
  }

  end(): void {
    this.socket.end();
  }
}

/** Connection options for a pair of connections in tests. */
export function options(nodeId: string, over: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { nodeId, network: NET, status, ...over };
}
