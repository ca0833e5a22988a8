import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeApi } from '../node/node-api.js';
import type { EventStream, NodeEventSource } from './event-stream.js';

/** Prefix of every cheesechain metric (Prometheus naming: `<namespace>_<name>_<unit>`). */
export const METRIC_PREFIX = 'cheesechain_';
/** Upper bounds of the reorg depth histogram, blocks. */
export const REORG_DEPTH_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100];

export interface NodeMetricsInit {
  api: NodeApi;
  events: NodeEventSource;
  /** The dashboard stream, for its client count. */
  stream?: EventStream;
}

/**
 * The Prometheus metrics of one peer (`GET /metrics`, docs/api.md): its own
 * registry (several peers may share a process in tests), counters fed by the
 * node's events as they happen, gauges and the per-method message counters
 * read from the {@link NodeApi} at each scrape, and prom-client's process metrics (resident memory, event-loop lag,
 * heap, GC) under their standard names.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly off: () => void;
  private readonly g: ReturnType<NodeMetrics['gauges']>;

  constructor(private readonly init: NodeMetricsInit) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const connected = new Counter({ name: `${METRIC_PREFIX}blocks_connected_total`, help: 'Blocks connected to the main chain', registers: [r] });
    const disconnected = new Counter({ name: `${METRIC_PREFIX}blocks_disconnected_total`, help: 'Blocks disconnected from the main chain (reorgs)', registers: [r] });
    const reorgs = new Counter({ name: `${METRIC_PREFIX}reorgs_total`, help: 'Tip changes that disconnected at least one block', registers: [r] });
    const reorgDepth = new Histogram({ name: `${METRIC_PREFIX}reorg_depth_blocks`, help: 'Blocks disconnected by each reorg', buckets: REORG_DEPTH_BUCKETS, registers: [r] });
    const rejects = new Counter({ name: `${METRIC_PREFIX}rejects_total`, help: 'Blocks refused by validation, by reject code', labelNames: ['kind', 'code'] as const, registers: [r] });
    const bans = new Counter({ name: `${METRIC_PREFIX}bans_total`, help: 'Peers banned for misbehaviour', registers: [r] });
    const txAccepted = new Counter({ name: `${METRIC_PREFIX}transactions_accepted_total`, help: 'Transfers admitted to the mempool', registers: [r] });
    const blocksMined = new Counter({ name: `${METRIC_PREFIX}blocks_mined_total`, help: 'Blocks this peer mined that connected', registers: [r] });
    this.g = this.gauges();
    this.off = init.events.subscribe((e) => {
      switch (e.type) {
        case 'block-connected':
          connected.inc();
          return;
        case 'block-disconnected':
          disconnected.inc();
          return;
        case 'tip-changed':
          if (e.reorgDepth > 0) {
            reorgs.inc();
            reorgDepth.observe(e.reorgDepth);
          }
          return;
        case 'block-rejected':
          rejects.inc({ kind: 'block', code: e.code });
          return;
        case 'peer-banned':
          bans.inc();
          return;
        case 'tx-accepted':
          txAccepted.inc();
          return;
        case 'block-mined':
          blocksMined.inc();
          return;
        default:
          return;
      }
    });
  }

  private gauges() {
    const r = this.registry;
    const gauge = (name: string, help: string) => new Gauge({ name: `${METRIC_PREFIX}${name}`, help, registers: [r] });
    return {
      height: gauge('height', 'Height of the main-chain tip'),
      bestPeerHeight: gauge('best_peer_height', 'Height of the tallest connected peer (or this peer when it is the tallest)'),
      syncProgress: gauge('sync_progress_ratio', 'height / best peer height (1 = in sync)'),
      mempoolTxs: gauge('mempool_transactions', 'Transfers in the mempool'),
      mempoolBytes: gauge('mempool_bytes', 'Serialised size of the mempool, bytes'),
      hashRate: gauge('hash_rate_hashes_per_second', 'Local mining hash rate, hashes per second'),
      mining: gauge('mining', '1 while mining, else 0'),
      blocksWon: gauge('blocks_won', 'Main-chain blocks whose coinbase pays this peer'),
      peers: new Gauge({ name: `${METRIC_PREFIX}peers`, help: 'Connected peers by direction', labelNames: ['direction'] as const, registers: [r] }),
      dashboards: gauge('dashboard_clients', 'Dashboards connected to the event stream'),
      // Counters whose totals the peer manager keeps: set from them at each scrape (reset, then the total).
      messages: new Counter({ name: `${METRIC_PREFIX}messages_total`, help: 'Peer-protocol messages by method and direction (in, out) since start', labelNames: ['method', 'direction'] as const, registers: [r] }),
      bytes: new Counter({ name: `${METRIC_PREFIX}message_bytes_total`, help: 'Bytes of peer-protocol frames (terminator included) by method and direction (in, out) since start', labelNames: ['method', 'direction'] as const, registers: [r] }),
    };
  }

  /** The Prometheus text exposition (format 0.0.4) after reading the gauges from the node. */
  async text(): Promise<string> {
    const { api, stream } = this.init;
    const g = this.g;
    const [info, peers, pool, traffic] = await Promise.all([api.info(), api.peers(), api.mempool(0), api.traffic()]);
    g.height.set(info.height);
    g.bestPeerHeight.set(info.bestPeerHeight);
    g.syncProgress.set(info.syncProgress);
    g.mempoolTxs.set(pool.size);
    g.mempoolBytes.set(pool.bytes);
    g.hashRate.set(info.hashRate);
    g.mining.set(info.mining ? 1 : 0);
    g.blocksWon.set(info.blocksWon);
    g.peers.set({ direction: 'inbound' }, peers.filter((p) => p.direction === 'inbound').length);
    g.peers.set({ direction: 'outbound' }, peers.filter((p) => p.direction === 'outbound').length);
    g.dashboards.set(stream?.counters.clients ?? 0);
    g.messages.reset();
    g.bytes.reset();
    for (const [direction, list] of [['in', traffic.received], ['out', traffic.sent]] as const) {
      for (const m of list) {
        g.messages.inc({ method: m.method, direction }, m.messages);
        g.bytes.inc({ method: m.method, direction }, m.bytes);
      }
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the node. */
  close(): void {
    this.off();
  }
}
