import { randomBytes, randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ChainActor, type ChainMsg, type SubmitBlockResult } from '../actors/chain.js';
import { MempoolActor, NextBlockState, type AddTxResult, type MempoolMsg } from '../actors/mempool.js';
import { MinerActor, MINING_STATS_INTERVAL_MS, type MinerMsg, type MinerStats } from '../actors/miner.js';
import type { ActorRef } from '../actors/runtime/actor.js';
import { Supervisor, type ChildSpec, type SupervisorEvent } from '../actors/runtime/supervisor.js';
import type { EscalationError } from '../actors/runtime/errors.js';
import { blockFromJson, blockSize, blockToJson, type Block } from '../core/block.js';
import { DecodeError, fromHex, toHex } from '../core/encoding.js';
import { genesisBlock, networkId as computeNetworkId, networkParams } from '../core/genesis.js';
import { hashToHex } from '../core/hash.js';
import { workFromBits } from '../core/pow.js';
import { signTransfer, txFromJson, txid, txToJson, type TransferTx } from '../core/transaction.js';
import { generateKeyPair } from '../core/ed25519.js';
import type { NodeConfig } from '../config/schema.js';
import { MiningPool } from '../mining/pool.js';
import type { Miner } from '../mining/types.js';
import type { BlockIndexEntry, BlockStore, ChainTip } from '../store/block-store.js';
import { LmdbBlockStore } from '../store/lmdb-store.js';
import { SignaturePrefetch } from '../workers/signature-prefetch.js';
import { VerifyPool } from '../workers/verify-pool.js';
import { GossipActor, type GossipMsg, type PeerManagerHooks } from '../actors/gossip.js';
import { PeerManagerActor, type PeerManagerMsg } from '../actors/peer-manager.js';
import { TrackerClientActor, type TrackerClientMsg, type TrackerMembers } from '../actors/tracker-client.js';
import { parseHostPort } from '../config/schema.js';
import type { ChainStatus } from '../transport/connection.js';
import { DATA_FILES, loadNodeId, loadOrCreateIdentityKey, loadOrCreateMinerKey, lockDataDir } from './data-dir.js';
import { IdentitySigner } from '../transport/handshake-auth.js';
import { Seed001Server, cheeseFromBlock, type Seed001Cheese } from '../transport/seed001.js';
import { EventBus } from '../actors/events.js';
import type {
  AccountView,
  BanView,
  BlockSummaryView,
  BlockView,
  ChainPage,
  ControlResult,
  MempoolView,
  NodeApi,
  NodeInfo,
  PeerView,
  SendTransferResult,
  SubmitBlockResult as ApiSubmitBlockResult,
  SubmitResult,
  TrackerView,
  TransactionView,
} from './node-api.js';
import { request } from '../actors/runtime/actor.js';

/** Mailbox of the gossip actor: every message of every peer passes through it, messages. */
export const GOSSIP_MAILBOX = 100_000;
/** Timeout of requests the API makes to the actors, ms. */
export const API_ASK_TIMEOUT_MS = 10_000;
/** The supervisor's id of the gossip actor. */
const GOSSIP_CHILD = 'gossip';

/** A running peer. */
export interface RunningNode {
  api: NodeApi;
  nodeId: string;
  bus: EventBus;
  /** Mining address (hex public key). */
  miningAddress: string;
  /** TCP port of the peer protocol (resolved when the config says 0). */
  listenPort: number;
  /** Adds a static peer to dial (kept and redialled with backoff like the config's `peers`). */
  connect(host: string, port: number): void;
  /** Stops every actor in reverse start order, finishes the write in progress and closes the store. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the node has stopped, rejects with the escalation when its supervisor gave up. */
  done: Promise<void>;
}

/** What an optional service of a node is given when the node has assembled its actors. */
export interface NodeServiceParts {
  config: NodeConfig;
  nodeId: string;
  bus: EventBus;
  api: NodeApi;
  logger: Logger;
}

/**
 * An optional part a caller hands to the node (the NATS bridge, a coin
 * service, …), in the manner of js-libp2p's `services`: the node never imports
 * its adapters. Returns the child spec the root supervisor starts after the
 * actors (and stops before them), or undefined when the config leaves the
 * service off.
 */
export type NodeService = (parts: NodeServiceParts) => ChildSpec<any> | undefined;

/** What a node needs besides its config. */
export interface NodeDeps {
  logger: Logger;
  /** Replaces the local piscina pool as hash power (a test's instant miner). */
  miner?: Miner;
  /**
   * Chooses external hash power once the node id is known (for example a NATS
   * farm); undefined keeps the local pool. The node closes it when it stops.
   */
  externalMiner?: (parts: { config: NodeConfig; nodeId: string; logger: Logger }) => Miner | undefined;
  /** Optional services, started in order after the actors (stopped first). */
  services?: readonly NodeService[];
}

/**
 * Starts one peer: opens (or creates) its data folder and LMDB store, then its
 * root supervisor starts the actors in order — chain, mempool, miner — and
 * stops them in reverse (design: store → chain → mempool → miner → gossip →
 * peer manager → tracker client → NATS bridge).
 * @throws StoreError when the folder holds another network's chain or is corrupt (nothing is written),
 *   DataDirError when the folder is locked by a running peer or a key file is bad.
 */
export async function startNode(config: NodeConfig, deps: NodeDeps): Promise<RunningNode> {
  const log = deps.logger;
  const params = networkParams(config.network);
  const netId = computeNetworkId(params);
  const genesis = genesisBlock(params);
  const unlock = lockDataDir(config.dataDir);
  const cleanup: Array<() => Promise<void> | void> = [unlock];
  const runCleanup = async (): Promise<void> => {
    while (cleanup.length > 0) {
      try {
        await cleanup.pop()!();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      }
    }
  };
  try {
    const identityKey = loadOrCreateIdentityKey(config.dataDir);
    const identity = new IdentitySigner(identityKey);
    const nodeId = loadNodeId(config.dataDir, config.nodeId, identityKey);
    const minerKey = config.mining.address ? { publicKey: fromHex(config.mining.address, 32, 'mining.address') } : loadOrCreateMinerKey(config.dataDir);
    const miningAddress = toHex(minerKey.publicKey);
    const store: BlockStore = new LmdbBlockStore({ path: join(config.dataDir, DATA_FILES.chain) });
    const genesisEntry: BlockIndexEntry = {
      hash: hashToHex(netId),
      header: genesis.header,
      height: 0,
      chainWork: workFromBits(genesis.header.bits),
    };
    await store.open({ network: params.name, networkId: hashToHex(netId), genesis, genesisEntry });
    cleanup.push(() => store.close());
    const bus = new EventBus((err, event) => log.error({ err, event: event.type, failedDeliveries: bus.failedDeliveries }, 'event delivery failed'));

    let escalate!: (err: EscalationError) => void;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve, reject) => {
      resolveDone = resolve;
      escalate = reject;
    });
    let announcePeers: (() => void) | undefined;
    const root = new Supervisor({
      name: nodeId,
      onEscalate: (err) => {
        log.fatal({ err }, 'restart budget spent; stopping the node');
        void runCleanup().then(() => escalate(err));
      },
      onEvent: (e) => {
        logSupervisorEvent(log, e);
        // A restarted gossip actor knows no peer: the connections that outlived it are announced to it again.
        if (e.type === 'child-restarted' && e.child === GOSSIP_CHILD) announcePeers?.();
      },
    });
    cleanup.push(() => root.stop());

    // Signatures of incoming transfers and blocks are checked in worker threads, in batches.
    const pool = new VerifyPool({ networkId: netId, threads: config.verification.threads });
    // Blocks downloaded in a sync start their checks on arrival; the chain takes the verdicts.
    const verifier = new SignaturePrefetch(pool);
    cleanup.push(() => verifier.close());
    const chain = await root.startChild<ChainMsg>({
      id: 'chain',
      start: () => new ChainActor({ params, networkId: netId, store, bus, verifier }),
    });
    // Balances as the next block sees them: confirmed plus the coinbase maturing in it.
    const nextBlockState = new NextBlockState(store, params);
    const mempool = await root.startChild<MempoolMsg>({
      id: 'mempool',
      start: () =>
        new MempoolActor({
          networkId: netId,
          state: nextBlockState,
          bus,
          maxTransactions: config.mempool.maxTransactions,
          minFee: BigInt(config.mempool.minFee),
          dustLimit: BigInt(config.mempool.dustLimit),
          verifier,
        }),
    });
    // Facts that change the mempool's state: a full mailbox throws, the bus counts and logs it (never a silent drop).
    bus.on('block-connected', (e) => mempool.tell({ type: 'mempool/block-connected', block: e.block }));
    bus.on('block-disconnected', (e) => mempool.tell({ type: 'mempool/block-disconnected', block: e.block }));

    bus.on('block-connected', (e) => log.info({ height: e.entry.height, hash: e.entry.hash, txs: e.block.txs.length }, 'block connected'));
    bus.on('block-disconnected', (e) => log.info({ height: e.entry.height, hash: e.entry.hash }, 'block disconnected'));
    // Evictions that follow the chain (a reorg, a conflicting transfer confirmed) are rare and tell an operator why a
    // transfer vanished; a full pool or expiry can evict many at once, so those are debug.
    bus.on('tx-evicted', (e) => {
      const record = { txid: e.txid, reason: e.reason };
      if (e.reason === 'invalid-after-reorg' || e.reason === 'confirmed-conflict') log.info(record, 'transaction evicted');
      else log.debug(record, 'transaction evicted');
    });
    bus.on('sync-progress', (e) =>
      log.info({ height: e.height, targetHeight: e.targetHeight, blocksPerSecond: Math.round(e.blocksPerSecond * 10) / 10, secondsLeft: e.secondsLeft === undefined ? undefined : Math.round(e.secondsLeft), done: e.done }, e.done ? 'sync done' : 'sync progress'),
    );
    bus.on('block-rejected', (e) => log.warn({ hash: e.hash, code: e.code, reason: e.reason, source: e.source }, 'block rejected'));

    let blocksWon = 0;
    bus.on('block-connected', (e) => {
      const cb = e.block.txs[0];
      if (cb?.type === 'coinbase' && toHex(cb.recipient) === miningAddress) blocksWon++;
    });
    bus.on('block-disconnected', (e) => {
      const cb = e.block.txs[0];
      if (cb?.type === 'coinbase' && toHex(cb.recipient) === miningAddress) blocksWon--;
    });

    let minerRef: ActorRef<MinerMsg> | undefined;
    const farm = deps.miner ? undefined : deps.externalMiner?.({ config, nodeId, logger: log });
    if (farm) cleanup.push(() => farm.close());
    const external = deps.miner ?? farm;
    let minerStarting: Promise<ActorRef<MinerMsg>> | undefined;
    /** The miner actor, started on first use (at start when mining is enabled, else when the operator starts mining). */
    const ensureMiner = (): Promise<ActorRef<MinerMsg>> =>
      (minerStarting ??= (async () => {
        let power: Miner;
        if (external) {
          power = external;
        } else {
          const pool = new MiningPool({ workers: config.mining.workers, chunkMs: config.mining.chunkMs });
          cleanup.push(() => pool.close());
          log.info({ kernel: pool.kernel.variant, reason: pool.kernel.reason, workers: pool.workers }, 'mining kernel');
          power = pool;
        }
        const ref = await root.startChild<MinerMsg>({
          id: 'miner',
          start: () => new MinerActor({ params, chain, mempool, miner: power, address: minerKey.publicKey, bus }),
        });
        minerRef = ref;
        bus.on('tip-changed', () => ref.offer({ type: 'miner/tip-changed' }));
        bus.on('tx-accepted', () => ref.offer({ type: 'miner/mempool-changed' }));
        const statsTimer = setInterval(() => {
          void request(ref, 'miner/stats', {}, API_ASK_TIMEOUT_MS)
            .then((s) => bus.publish({ type: 'mining-stats', hashRate: s.hashRate, workers: config.mining.workers, blocksWon }))
            .catch(() => undefined);
        }, MINING_STATS_INTERVAL_MS);
        cleanup.push(() => clearInterval(statsTimer));
        return ref;
      })());
    if (config.mining.enabled || external) (await ensureMiner()).tell({ type: 'miner/start' });

    // The network: gossip, then the peer manager (listener, dialer, connections), then the tracker client.
    const statusOf = (t: ChainTip): ChainStatus => ({ height: t.height, tip: t.hash, chainWork: t.chainWork });
    let tipStatus = statusOf(store.getTip());
    bus.on('tip-changed', (e) => (tipStatus = statusOf(e.tip)));
    let peerManagerRef: ActorRef<PeerManagerMsg> | undefined;
    const hooks: PeerManagerHooks = {
      punish: (id, offence) => peerManagerRef?.tell({ type: 'pm/punish', nodeId: id, offence }),
    };
    const gossip = await root.startChild<GossipMsg>({
      id: GOSSIP_CHILD,
      mailbox: GOSSIP_MAILBOX,
      start: () => new GossipActor({ params, chain, mempool, bus, hooks, signatures: verifier }),
    });
    const staticPeers = config.peers.map(parseHostPort);
    // Document 001's peer commands on the listening port (docs/seed001.md).
    let trackerPeerId: string | undefined;
    let apiRef: NodeApi | undefined;
    const cheeseAt = (height: number): Seed001Cheese | undefined => {
      const hash = store.getHashAtHeight(height);
      const block = hash === undefined ? undefined : store.getBlock(hash);
      return hash === undefined || !block ? undefined : cheeseFromBlock(block, height, hash);
    };
    const seed001 = new Seed001Server({
      source: {
        peerId: () => trackerPeerId ?? nodeId,
        tipHeight: () => tipStatus.height,
        cheeseAt: async (height) => cheeseAt(height),
        openTransactions: async (limit) =>
          (await request(mempool, 'mempool/template', { maxTxs: limit, maxBytes: Number.MAX_SAFE_INTEGER }, API_ASK_TIMEOUT_MS)).map((tx) => ({
            sender: toHex(tx.sender),
            recipient: toHex(tx.recipient),
            amount: Number(tx.amount),
          })),
        submitTransaction: async (json) => {
          if (!apiRef) return { accepted: false, code: 'unavailable', reason: 'the node is starting' };
          const r = await apiRef.submitTransaction(json);
          return r.accepted ? r : { accepted: false, code: r.code, reason: r.reason };
        },
        subscribe: (listener) => bus.on('block-connected', (e) => listener(cheeseFromBlock(e.block, e.entry.height, e.entry.hash))),
      },
      maxChainCheeses: config.seed001.maxChainCheeses,
      idleTimeoutMs: config.seed001.idleTimeoutMs,
      maxSessions: config.seed001.maxSessions,
      onSessionEnd: (s) => log.debug({ remote: s.remote, requests: s.requests }, 'seed-001 client left'),
    });
    cleanup.push(() => seed001.close());
    peerManagerRef = await root.startChild<PeerManagerMsg>({
      id: 'peer-manager',
      start: () =>
        new PeerManagerActor({
          nodeId,
          network: hashToHex(netId),
          listenHost: config.listen.host,
          listenPort: config.listen.port,
          staticPeers,
          maxInbound: config.connections.maxInbound,
          maxOutbound: config.connections.maxOutbound,
          banSeconds: config.connections.banSeconds,
          handshakeTimeoutMs: config.connections.handshakeTimeoutMs,
          maxInboundPerAddress: config.connections.maxInboundPerAddress,
          localRanges: config.connections.localRanges,
          identity,
          gossip,
          bus,
          status: () => tipStatus,
          ...(config.seed001.enabled ? { seed001: (socket: Socket, initialBytes: Buffer) => seed001.accept(socket, initialBytes) } : {}),
        }),
    });
    const pmRef = peerManagerRef;
    announcePeers = () => pmRef.tell({ type: 'pm/announce-peers' });
    const listenPort = await request(pmRef, 'pm/listen-port', {});
    let trackerRef: ActorRef<TrackerClientMsg> | undefined;
    if (config.tracker) {
      const tracker = config.tracker;
      trackerRef = await root.startChild<TrackerClientMsg>({
        id: 'tracker-client',
        start: () =>
          new TrackerClientActor({
            host: tracker.host,
            port: tracker.port,
            listenHost: config.listen.host,
            listenPort,
            peerManager: pmRef,
            log,
            onJoined: (pid) => (trackerPeerId = pid),
          }),
      });
    }
    bus.on('peer-connected', (e) => log.info({ peer: e.nodeId, host: e.host, port: e.port, direction: e.direction }, 'peer connected'));
    bus.on('peer-disconnected', (e) => log.info({ peer: e.nodeId, reason: e.reason, direction: e.direction }, 'peer disconnected'));
    bus.on('peer-banned', (e) => log.warn({ peer: e.nodeId, host: e.host, reason: e.reason }, 'peer banned'));

    const peers = (): Promise<PeerView[]> => request(pmRef, 'pm/peers', {}, API_ASK_TIMEOUT_MS);
    let stop!: () => Promise<void>;
    const api = createNodeApi({
      config,
      nodeId,
      netId,
      store,
      chain,
      mempool,
      miner: () => minerRef,
      ensureMiner,
      peerManager: pmRef,
      tracker: trackerRef,
      miningAddress,
      secretKey: 'secretKey' in minerKey ? minerKey.secretKey : undefined,
      peers,
      blocksWon: () => blocksWon,
      stop: () => stop(),
    });
    apiRef = api;

    // Optional services last, so that they are stopped first and never see a half-stopped node.
    for (const service of deps.services ?? []) {
      const spec = service({ config, nodeId, bus, api, logger: log });
      if (spec) await root.startChild(spec);
    }

    bus.publish({ type: 'status', state: 'started' });
    const tip = store.getTip();
    log.info({ nodeId, network: params.name, height: tip.height, tip: tip.hash, listenPort, mining: Boolean(minerRef), miningAddress }, 'node started');

    let stopping: Promise<void> | undefined;
    stop = (): Promise<void> => {
      stopping ??= (async () => {
        bus.publish({ type: 'status', state: 'stopping' });
        await runCleanup();
        log.info('node stopped');
        resolveDone();
      })();
      return stopping;
    };
    const connectTo = (host: string, port: number): void => void pmRef.offer({ type: 'pm/learn', addresses: [{ host, port }], from: 'local', static: true });
    return { api, nodeId, bus, miningAddress, listenPort, connect: connectTo, stop, done };
  } catch (err) {
    await runCleanup();
    throw err;
  }
}

function logSupervisorEvent(log: Logger, e: SupervisorEvent): void {
  switch (e.type) {
    case 'child-crashed':
      log.error({ child: e.child, err: e.error }, 'actor crashed');
      return;
    case 'child-restarted':
      log.warn({ child: e.child, restarts: e.restarts, delayMs: e.delayMs }, 'actor restarted');
      return;
    case 'escalated':
      log.fatal({ err: e.error }, 'supervisor escalated');
      return;
    case 'child-started':
    case 'child-stopped':
      log.debug({ child: e.child }, e.type);
      return;
  }
}

interface ApiParts {
  config: NodeConfig;
  nodeId: string;
  netId: Uint8Array;
  store: BlockStore;
  chain: ActorRef<ChainMsg>;
  mempool: ActorRef<MempoolMsg>;
  /** The miner actor, when started. */
  miner: () => ActorRef<MinerMsg> | undefined;
  /** Starts the miner actor (and its pool) when it is not running yet. */
  ensureMiner: () => Promise<ActorRef<MinerMsg>>;
  peerManager: ActorRef<PeerManagerMsg>;
  tracker: ActorRef<TrackerClientMsg> | undefined;
  miningAddress: string;
  /** The mining key's secret half (64 bytes, tweetnacl form); absent when `mining.address` names a key kept elsewhere. */
  secretKey: Uint8Array | undefined;
  peers: () => Promise<PeerView[]>;
  blocksWon: () => number;
  stop: () => Promise<void>;
}

/** Most blocks one {@link NodeApi.chain} call returns. */
export const MAX_CHAIN_PAGE = 500;
/** Most transfers one {@link NodeApi.mempool} call returns. */
export const MAX_MEMPOOL_PAGE = 1_000;
/** Recent blocks whose miners a random transfer may pay. */
export const RANDOM_RECIPIENT_BLOCKS = 50;
/** Fee of a random transfer when the mempool's minimum is lower, base units (the wallet's default). */
export const RANDOM_TRANSFER_FEE = 1000n;
/** Largest share of the balance a random transfer moves: 1 / this. */
export const RANDOM_TRANSFER_DIVISOR = 100n;

const HASH_RE = /^[0-9a-f]{64}$/;

/**
 * Parses a transaction submitted in its JSON form (HTTP, NATS): a transfer, or
 * a typed rejection — `malformed` for a bad shape, `coinbase-not-relayed` for
 * a coinbase (only valid inside a block).
 */
export function parseSubmittedTransfer(json: unknown): { ok: true; tx: TransferTx } | { ok: false; code: 'malformed' | 'coinbase-not-relayed'; reason: string } {
  let tx;
  try {
    tx = txFromJson(json);
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false, code: 'malformed', reason: err.message };
    throw err;
  }
  if (tx.type !== 'transfer') return { ok: false, code: 'coinbase-not-relayed', reason: 'a coinbase is only valid inside a block' };
  return { ok: true, tx };
}

/** The {@link NodeApi} of a peer, answered by its actors and store. */
export function createNodeApi(p: ApiParts): NodeApi {
  const spendable = new NextBlockState(p.store, networkParams(p.config.network));
  const blockView = async (hash: string): Promise<BlockView | undefined> => {
    const found = await request(p.chain, 'chain/get-block', { hash }, API_ASK_TIMEOUT_MS);
    if (!found) return undefined;
    return { hash, height: found.entry.height, mainChain: found.mainChain, size: blockSize(found.block), block: blockToJson(found.block), txids: found.block.txs.map(txid) };
  };
  return {
    async info(): Promise<NodeInfo> {
      const tip = await request(p.chain, 'chain/get-tip', {}, API_ASK_TIMEOUT_MS);
      const pool = await request(p.mempool, 'mempool/info', {}, API_ASK_TIMEOUT_MS);
      const miner = p.miner();
      const stats = miner ? await request(miner, 'miner/stats', {}, API_ASK_TIMEOUT_MS) : undefined;
      const peers = await p.peers();
      const bestPeerHeight = Math.max(tip.height, ...peers.map((x) => x.height));
      return {
        network: p.config.network,
        networkId: hashToHex(p.netId),
        nodeId: p.nodeId,
        height: tip.height,
        tip: tip.hash,
        chainWork: tip.chainWork.toString(16),
        peers: peers.length,
        mempool: pool.size,
        hashRate: stats?.hashRate ?? 0,
        mining: stats?.mining ?? false,
        blocksWon: p.blocksWon(),
        miningAddress: p.miningAddress,
        bestPeerHeight,
        syncProgress: bestPeerHeight === 0 ? 1 : tip.height / bestPeerHeight,
      };
    },
    async blockByHash(hash) {
      if (!HASH_RE.test(hash)) return undefined;
      return blockView(hash);
    },
    async blockByHeight(height) {
      if (!Number.isSafeInteger(height) || height < 0) return undefined;
      const hash = p.store.getHashAtHeight(height);
      return hash === undefined ? undefined : blockView(hash);
    },
    async transaction(txid): Promise<TransactionView | undefined> {
      if (!HASH_RE.test(txid)) return undefined;
      const pending = await request(p.mempool, 'mempool/get', { txid }, API_ASK_TIMEOUT_MS);
      if (pending) return { txid, status: 'mempool', tx: txToJson(pending) };
      const loc = p.store.getTxLocation(txid);
      const block = loc && p.store.getBlock(loc.blockHash);
      const entry = loc && p.store.getEntry(loc.blockHash);
      const tx = block?.txs[loc!.index];
      if (!tx || !entry) return undefined;
      return { txid, status: 'confirmed', blockHash: loc!.blockHash, height: entry.height, tx: txToJson(tx) };
    },
    async account(key): Promise<AccountView> {
      // What the key can spend in the next block: its maturing coinbase included.
      const acc = spendable.getAccount(key);
      const pendingNonce = HASH_RE.test(key) ? await request(p.mempool, 'mempool/pending-nonce', { key }, API_ASK_TIMEOUT_MS) : 0;
      return { key, balance: (acc?.balance ?? 0n).toString(), nonce: acc?.nonce ?? 0, pendingNonce };
    },
    async submitTransaction(json): Promise<SubmitResult> {
      const parsed = parseSubmittedTransfer(json);
      if (!parsed.ok) return { accepted: false, code: parsed.code, reason: parsed.reason };
      const transfer = parsed.tx;
      const r = await request(p.mempool, 'mempool/add', { tx: transfer, source: 'api' }, API_ASK_TIMEOUT_MS);
      return r.accepted ? { accepted: true, txid: r.txid } : { accepted: false, code: r.code, reason: r.reason, txid: r.txid };
    },
    async peers() {
      return p.peers();
    },
    async chain({ from, limit }): Promise<ChainPage> {
      const tip = p.store.getTip();
      const blocks: BlockSummaryView[] = [];
      const top = from === undefined ? tip.height : Math.min(from, tip.height);
      const n = Math.min(Math.max(0, limit), MAX_CHAIN_PAGE);
      for (let h = top; h >= 0 && blocks.length < n; h--) {
        const hash = p.store.getHashAtHeight(h);
        const block = hash === undefined ? undefined : p.store.getBlock(hash);
        if (!hash || !block) break;
        blocks.push(blockSummary(hash, h, block));
      }
      return { height: tip.height, blocks };
    },
    async mempool(limit): Promise<MempoolView> {
      const info = await request(p.mempool, 'mempool/info', {}, API_ASK_TIMEOUT_MS);
      const n = Math.min(Math.max(0, limit), MAX_MEMPOOL_PAGE);
      const list = await request(p.mempool, 'mempool/list', { limit: n }, API_ASK_TIMEOUT_MS);
      return { size: info.size, bytes: info.bytes, transactions: list.map((e) => ({ txid: e.txid, tx: txToJson(e.tx) })) };
    },
    async tracker(options): Promise<TrackerView> {
      const t = p.config.tracker;
      if (!t || !p.tracker) return { tracker: null, peerId: null, updatedAt: null, members: [] };
      const [m, peers] = await Promise.all([request(p.tracker, 'tracker/members', { refresh: options?.refresh === true }, API_ASK_TIMEOUT_MS), p.peers()]);
      return trackerView(`${t.host}:${t.port}`, m, peers);
    },
    async startMining(): Promise<ControlResult> {
      (await p.ensureMiner()).tell({ type: 'miner/start' });
      return { ok: true };
    },
    async stopMining(): Promise<ControlResult> {
      p.miner()?.tell({ type: 'miner/stop' });
      return { ok: true };
    },
    async connectPeer(host, port): Promise<ControlResult> {
      await request(p.peerManager, 'pm/dial-now', { addresses: [{ host, port }], static: true }, API_ASK_TIMEOUT_MS);
      return { ok: true };
    },
    async connectTrackerPeers() {
      if (!p.tracker) return { ok: false, code: 'unavailable', reason: 'this peer has no tracker configured (tracker.host, tracker.port)' };
      const r = await request(p.tracker, 'tracker/connect-all', {}, API_ASK_TIMEOUT_MS);
      return { ok: true, dialing: r.dialing };
    },
    async disconnectPeer(nodeId): Promise<ControlResult> {
      const found = await request(p.peerManager, 'pm/disconnect', { nodeId }, API_ASK_TIMEOUT_MS);
      return found ? { ok: true } : { ok: false, code: 'not-found', reason: `not connected to ${nodeId}` };
    },
    async ban(target, seconds): Promise<ControlResult> {
      if (!Number.isSafeInteger(seconds) || seconds <= 0) return { ok: false, code: 'bad-request', reason: `seconds must be a positive integer, got ${seconds}` };
      await request(p.peerManager, 'pm/ban', { target, seconds }, API_ASK_TIMEOUT_MS);
      return { ok: true };
    },
    async unban(target): Promise<ControlResult> {
      const found = await request(p.peerManager, 'pm/unban', { target }, API_ASK_TIMEOUT_MS);
      return found ? { ok: true } : { ok: false, code: 'not-found', reason: `no ban on ${'nodeId' in target ? target.nodeId : target.host}` };
    },
    async bans(): Promise<BanView[]> {
      return request(p.peerManager, 'pm/bans', {}, API_ASK_TIMEOUT_MS);
    },
    async traffic() {
      return request(p.peerManager, 'pm/traffic', {}, API_ASK_TIMEOUT_MS);
    },
    async sendTransfer(wanted): Promise<SendTransferResult> {
      if (!p.secretKey) return { accepted: false, code: 'malformed', reason: 'this peer does not hold its mining key (mining.address names a key kept elsewhere); sign with the wallet instead' };
      const nonce = await request(p.mempool, 'mempool/pending-nonce', { key: p.miningAddress }, API_ASK_TIMEOUT_MS);
      const minFee = BigInt(p.config.mempool.minFee);
      let fields: { recipient: Uint8Array; amount: bigint; fee: bigint };
      if (wanted.random) {
        const balance = p.store.getAccount(p.miningAddress)?.balance ?? 0n;
        const fee = minFee > RANDOM_TRANSFER_FEE ? minFee : RANDOM_TRANSFER_FEE;
        // Never below the dust limit, or the mempool refuses it (a balance too small is refused as such).
        const dust = BigInt(p.config.mempool.dustLimit);
        const most = balance / RANDOM_TRANSFER_DIVISOR;
        fields = { recipient: randomRecipient(p.store, p.miningAddress), amount: most > dust ? dust + randomBelow(most - dust + 1n) : dust, fee };
      } else {
        fields = { recipient: fromHex(wanted.recipient, 32, 'recipient'), amount: wanted.amount, fee: wanted.fee };
      }
      const tx = signTransfer(p.netId, { ...fields, nonce }, p.secretKey);
      const r = await request(p.mempool, 'mempool/add', { tx, source: 'api' }, API_ASK_TIMEOUT_MS);
      const json = txToJson(tx);
      return r.accepted ? { accepted: true, txid: r.txid, tx: json } : { accepted: false, code: r.code, reason: r.reason, txid: r.txid, tx: json };
    },
    async stopNode(): Promise<ControlResult> {
      // Answer first: the stop closes the very interfaces that carry this answer.
      setImmediate(() => void p.stop());
      return { ok: true };
    },
    async submitBlock(json): Promise<ApiSubmitBlockResult> {
      let block: Block;
      try {
        block = blockFromJson(json);
      } catch (err) {
        if (err instanceof DecodeError) return { status: 'malformed', reason: err.message };
        throw err;
      }
      // Like Bitcoin Core's submitblock (force_processing): the operator asked for it, so a side branch is stored whatever its work.
      return request(p.chain, 'chain/submit-block', { block, source: 'api', requested: true }, API_ASK_TIMEOUT_MS);
    },
  };
}

/** A main-chain block without its transactions. */
function blockSummary(hash: string, height: number, block: Block): BlockSummaryView {
  const cb = block.txs[0];
  const h = block.header;
  return {
    hash,
    height,
    prevHash: hashToHex(h.prevHash),
    time: h.time,
    bits: h.bits,
    nonce: h.nonce,
    txCount: block.txs.length,
    size: blockSize(block),
    miner: cb ? toHex(cb.recipient) : '',
    reward: cb?.type === 'coinbase' ? cb.amount.toString() : '0',
  };
}

/** The tracker's members joined with the connections that listen at their addresses. */
function trackerView(tracker: string, m: TrackerMembers, peers: PeerView[]): TrackerView {
  const byAddress = new Map(peers.map((x) => [`${x.host}:${x.port}`, x]));
  return {
    tracker,
    peerId: m.peerId ?? null,
    updatedAt: m.updatedAt ?? null,
    members: m.members.map((x) => {
      const connection = byAddress.get(`${x.host}:${x.port}`);
      return { peerId: x.peerId, host: x.host, port: x.port, self: x.peerId === m.peerId, ...(connection ? { connection } : {}) };
    }),
  };
}

/** A miner of a recent main-chain block other than `self`, else a fresh key (document 003: a transfer to a random peer). */
function randomRecipient(store: BlockStore, self: string): Uint8Array {
  const tip = store.getTip().height;
  const miners = new Map<string, Uint8Array>();
  for (let h = tip; h > 0 && h > tip - RANDOM_RECIPIENT_BLOCKS; h--) {
    const hash = store.getHashAtHeight(h);
    const cb = hash === undefined ? undefined : store.getBlock(hash)?.txs[0];
    if (cb && toHex(cb.recipient) !== self) miners.set(toHex(cb.recipient), cb.recipient);
  }
  const list = [...miners.values()];
  return list.length > 0 ? list[randomInt(list.length)]! : generateKeyPair().publicKey;
}

/** A uniform bigint in [0, n), n ≥ 1. */
function randomBelow(n: bigint): bigint {
  const bytes = randomBytes(16);
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return x % n;
}

export type { SubmitBlockResult };
