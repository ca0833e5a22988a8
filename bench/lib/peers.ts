/**
 * In-process regtest peers and a raw protocol client for the network
 * benchmark: peers are real nodes (`startNode`: LMDB store in a temporary
 * folder, actors, TCP on 127.0.0.1), as in `test/network/helpers.ts`, with
 * mining and the HTTP API off and logging silent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { nodeConfigSchema, type NodeConfigInput } from '../../src/config/schema.js';
import { genesisBlock, networkId } from '../../src/core/genesis.js';
import { hashToHex } from '../../src/core/hash.js';
import { NETWORKS } from '../../src/core/params.js';
import { workFromBits } from '../../src/core/pow.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { PeerConnection } from '../../src/transport/connection.js';

const regtest = NETWORKS.regtest;
/** Regtest network id, display hex. */
export const REGTEST_ID_HEX = hashToHex(networkId(regtest));

/** A started benchmark peer and its data folder. */
export interface BenchPeer {
  node: RunningNode;
  name: string;
  dir: string;
  /** Stops the node and removes its data folder. Idempotent. */
  stop(): Promise<void>;
}

export interface BenchPeerOptions {
  name: string;
  /** Data folder to use (kept by the caller); a new temporary folder when absent. */
  dir?: string;
  /** Listen ports on 127.0.0.1 to dial at start. */
  peers?: number[];
  /** Outbound connection limit (so that a topology stays as built: ADDR would otherwise fill free slots). */
  maxOutbound?: number;
  overrides?: Partial<NodeConfigInput>;
}

/** A new temporary folder for a peer's data. */
export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `cheesechain-bench-${name}-`));
}

/** Starts a regtest peer on 127.0.0.1 with a free port. */
export async function startBenchPeer(opts: BenchPeerOptions): Promise<BenchPeer> {
  const dir = opts.dir ?? tempDir(opts.name);
  const config = nodeConfigSchema.parse({
    network: 'regtest',
    dataDir: dir,
    nodeId: opts.name,
    listen: { host: '127.0.0.1', port: 0 },
    peers: (opts.peers ?? []).map((p) => `127.0.0.1:${p}`),
    api: { enabled: false },
    mining: { enabled: false, workers: 1 },
    log: { level: 'silent' },
    ...(opts.maxOutbound !== undefined ? { connections: { maxOutbound: opts.maxOutbound } } : {}),
    ...opts.overrides,
  });
  const node = await startNode(config, { logger: pino({ level: process.env.CHEESECHAIN_BENCH_LOG ?? 'silent' }).child({ node: opts.name }) });
  let stopping: Promise<void> | undefined;
  return {
    node,
    name: opts.name,
    dir,
    stop: () =>
      (stopping ??= (async () => {
        await node.stop();
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Resolves when `node` has at least `n` connected peers. */
export async function untilPeers(node: RunningNode, n: number): Promise<void> {
  for (;;) {
    const waiting = node.bus.once('peer-connected');
    if ((await node.api.peers()).length >= n) return;
    await waiting;
  }
}

/** Rejects after `ms` with a message naming what was awaited (a benchmark that hangs is a failure, not a number). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`benchmark: ${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A raw peer-protocol client (the dialling side of document 002/004's
 * handshake, through the transport's `PeerConnection`) that announces the
 * genesis block as its tip, so the peer never syncs from it, and then writes
 * pre-encoded frames straight to the socket: what the benchmark times is the
 * peer's work, not the client's encoding.
 */
export class RawClient {
  private constructor(
    readonly conn: PeerConnection,
    private readonly socket: import('node:net').Socket,
  ) {}

  /** Dials 127.0.0.1:`port` and completes the HELLO/HEY handshake. @throws ConnectionClosedError when the peer refuses it. */
  static async connect(port: number, nodeId: string): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const genesis = genesisBlock(regtest);
    const conn = new PeerConnection({
      socket,
      direction: 'outbound',
      nodeId,
      listenPort: 0,
      network: REGTEST_ID_HEX,
      status: () => ({ height: 0, tip: REGTEST_ID_HEX, chainWork: workFromBits(genesis.header.bits) }),
      agent: 'cheesechain-bench',
    });
    await conn.ready;
    return new RawClient(conn, socket);
  }

  /** Writes one encoded frame; resolves when the socket can take more. */
  async write(frame: Buffer): Promise<void> {
    if (!this.socket.write(frame)) await new Promise<void>((resolve) => this.socket.once('drain', resolve));
  }

  async close(): Promise<void> {
    await this.conn.close('local-close', 'benchmark done');
  }
}
