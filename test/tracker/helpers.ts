import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import type { Test } from 'tap';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS, type NetworkName } from '../../src/core/params.js';
import { workFromBits } from '../../src/core/pow.js';
import { startTracker, type RunningTracker, type TrackerEvent, type TrackerInit } from '../../src/tracker/server.js';
import { FrameDecoder } from '../../src/transport/frame-decoder.js';
import { decodeMessage, encodeMessage, message, type HelloPayload, type Message } from '../../src/transport/messages.js';

/** A loopback port nothing listens on (bound, then closed). */
export function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A logger that writes nothing. */
export const silentLogger = pino({ level: 'silent' });

/** Starts a tracker on free loopback ports and closes it when the test ends. */
export async function trackerFor(t: Test, init: Partial<TrackerInit> = {}): Promise<RunningTracker> {
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, peerPort: 0, logger: silentLogger, helloIntervalMs: 3_600_000, ...init });
  t.teardown(() => tracker.close());
  return tracker;
}

/** Resolves with the first event of the tracker that satisfies `match`. */
export function nextEvent<E extends TrackerEvent>(tracker: RunningTracker, match: (e: TrackerEvent) => e is E): Promise<E> {
  return new Promise((resolve) => {
    const off = tracker.on((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

/**
 * A raw TCP client of the tracker's text protocol that collects reply lines:
 * `line()` resolves with the next one (without its LF).
 */
export class LineClient {
  readonly lines: string[] = [];
  private waiters: Array<(line: string | undefined) => void> = [];
  private buffer = '';
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w(undefined);
        resolve();
      }),
    );
  }

  /** Connects to `host` (default loopback) from `localAddress` (default: the system's choice). */
  static open(t: Test, port: number, from: { host?: string; localAddress?: string } = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: from.host ?? '127.0.0.1', port, ...(from.localAddress !== undefined ? { localAddress: from.localAddress } : {}) }, () => resolve(new LineClient(socket)));
      socket.once('error', reject);
      t.teardown(() => socket.destroy());
    });
  }

  /** The next reply line; undefined when the connection closed first. */
  line(): Promise<string | undefined> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Bytes received after the last LF. */
  get unterminated(): string {
    return this.buffer;
  }
}

/** Opens a connection and consumes the greeting. */
export async function greeted(t: Test, port: number, from: { host?: string; localAddress?: string } = {}): Promise<LineClient> {
  const c = await LineClient.open(t, port, from);
  t.equal(await c.line(), 'Connection Successful', 'greeting');
  return c;
}

/** A HELLO/HEY payload of a chainless node on `network`. */
export function helloOf(network: NetworkName, nodeId: string, port: number): HelloPayload {
  const params = NETWORKS[network];
  const genesisHash = hashToHex(networkId(params));
  return {
    version: 1,
    network: genesisHash,
    height: 0,
    tip: genesisHash,
    chainWork: workFromBits(genesisBlock(params).header.bits),
    time: Math.floor(Date.now() / 1000),
    nodeId,
    port,
  };
}

/**
 * A minimal peer-protocol acceptor standing in for a member: it answers the
 * id line with its bare id (document 002) and a HELLO with HEY + HELLO
 * (document 004), and records what it received.
 */
export class FakeMember {
  readonly received: Message[] = [];
  readonly idLines: string[] = [];
  private readonly sockets = new Set<Socket>();
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private constructor(
    readonly server: Server,
    readonly nodeId: string,
    readonly network: NetworkName,
  ) {}

  static async start(t: Test, nodeId: string, network: NetworkName = 'devnet', host = '127.0.0.1'): Promise<FakeMember> {
    const server = createServer();
    const member = new FakeMember(server, nodeId, network);
    server.on('connection', (s) => member.serve(s));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    t.teardown(() => member.stop());
    return member;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder();
    let gotId = false;
    socket.on('data', (chunk: Buffer) => {
      if (!gotId) {
        gotId = true;
        this.idLines.push(chunk.toString('utf8'));
        socket.write(this.nodeId);
        return;
      }
      for (const f of decoder.push(chunk)) {
        if (f.type !== 'frame') continue;
        const d = decodeMessage(f.text);
        if (!d.ok) continue;
        this.received.push(d.message);
        this.waiters = this.waiters.filter((w) => (this.received.length >= w.count ? (w.resolve(), false) : true));
        if (d.message.method === 'HELLO') {
          if (d.message.payload.network !== hashToHex(networkId(NETWORKS[this.network]))) {
            socket.destroy(); // another network: hang up, as a peer does
            return;
          }
          const hello = helloOf(this.network, this.nodeId, this.port);
          socket.write(Buffer.concat([encodeMessage(message('HEY', hello)), encodeMessage(message('HELLO', hello))]));
        }
      }
    });
  }

  /** Resolves once `count` messages have been received in all. */
  receivedCount(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A raw peer-protocol dialer: sends `<id>:<port>`, waits for the bare id,
 * then exchanges frames. `next()` resolves with the next decoded message.
 */
export class RawDialer {
  private readonly decoder = new FrameDecoder();
  private readonly queue: Message[] = [];
  private waiters: Array<(m: Message | undefined) => void> = [];
  remoteId: string | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {}

  static dial(t: Test, port: number, idLine: string): Promise<RawDialer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const d = new RawDialer(socket);
      t.teardown(() => socket.destroy());
      socket.once('error', reject);
      socket.on('connect', () => socket.write(idLine));
      socket.on('close', () => {
        d.closed = true;
        for (const w of d.waiters.splice(0)) w(undefined);
        if (d.remoteId === undefined) resolve(d);
      });
      socket.on('data', (chunk: Buffer) => {
        if (d.remoteId === undefined) {
          d.remoteId = chunk.toString('utf8');
          resolve(d);
          return;
        }
        for (const f of d.decoder.push(chunk)) {
          if (f.type !== 'frame') continue;
          const m = decodeMessage(f.text);
          if (!m.ok) continue;
          const w = d.waiters.shift();
          if (w) w(m.message);
          else d.queue.push(m.message);
        }
      });
    });
  }

  send(msg: Message): void {
    this.socket.write(encodeMessage(msg));
  }

  /** The next message; undefined when the connection closed first. */
  next(): Promise<Message | undefined> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when the remote side has closed the connection. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }
}
