import { randomInt } from 'node:crypto';
import type { Block, BlockTxIds } from '../core/block.js';
import { blockHash, blockSize, blockTxIds } from '../core/block.js';
import { COMPACT_BLOCK_VERSION, PartialBlock, toCompactBlock, type CompactBlock, type KnownTx } from '../core/compact-block.js';
import { headerHashHex } from '../core/header.js';
import { BLOCK_VERSION, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, type NetworkParams } from '../core/params.js';
import { reject } from '../core/reject.js';
import { txHash } from '../core/transaction.js';
import { checkProofOfWork } from '../core/validation.js';
import { SyncProgress } from './sync-progress.js';
import { hashToHex } from '../core/hash.js';
import { assertNever, isPolicyOnly, type RejectCode, type RejectedItem } from '../core/reject.js';
import type { Transaction, TransferTx } from '../core/transaction.js';
import type { EventBus } from './events.js';
import type { HelloPayload, Message, Outgoing } from '../transport/messages.js';
import { EncodedMessage, message } from '../transport/messages.js';
import {
  BLOCKS_MESSAGE_BUDGET_BYTES,
  COMPACT_BLOCKS_PROTOCOL_VERSION,
  MAX_BLOCKS_PER_MESSAGE,
  MAX_GETBLOCKS_HASHES,
  MAX_GETTRANSACTIONS_TXIDS,
  MAX_INVENTORY_ITEMS,
  MAX_LIST_OF_BLOCKS,
  MAX_LOCATOR_HASHES,
  MAX_PUSH_TRANSACTIONS,
  MAX_REJECT_REASON_LENGTH,
} from '../transport/limits.js';
import type { ChainMsg, SubmitBlockResult } from './chain.js';
import type { AddTxResult, MempoolMsg } from './mempool.js';
import type { Actor, ActorContext, ActorRef } from './runtime/actor.js';
import { BlockFetcher, MAX_IN_FLIGHT_SCALE, MAX_WANTED_PER_PEER, type BlockFetcherInit, type BlockRequest } from './block-fetcher.js';
import { systemClock, type Clock } from '../core/clock.js';
import { request } from './runtime/actor.js';

/** Housekeeping interval (stalls, announcements), ms. */
export const GOSSIP_TICK_MS = 50;
/**
 * Most hashes of one BROADCASTBLOCK looked up and downloaded directly. A new
 * tip is announced by one hash (a few after a reorg); a longer list is only
 * believed through a sync (GETLISTOFBLOCKS to that peer).
 */
export const MAX_ANNOUNCED_UNKNOWN = 16;
/** Most inventory hashes remembered per peer (seen-set), items. */
export const MAX_KNOWN_INVENTORY = 50_000;

/**
 * One established peer connection as the gossip actor sees it (after the
 * HELLO/HEY handshake). Implemented by the peer manager over a transport
 * connection.
 */
export interface PeerLink {
  readonly nodeId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly host: string;
  /** The peer's listen port from its HELLO. */
  readonly port: number;
  /** The peer's HELLO (height, tip, chain work at connect time). */
  readonly hello: HelloPayload;
  /** Sends a message, or the same frame already encoded for several peers. */
  send(msg: Outgoing): void;
}

/**
 * What a peer did wrong, as the chain or the mempool decided it: the item, the
 * validation code (a consensus code, never a policy one: {@link isPolicyOnly})
 * and a sentence. The peer manager answers it with a REJECT naming the code
 * and the item, then ends the connection with `invalid-block` or
 * `invalid-transaction` (docs/protocol.md section 8).
 */
export type Offence =
  | { kind: 'invalid-block'; hash: string; code: RejectCode; reason: string }
  | { kind: 'invalid-transaction'; txid: string; code: RejectCode; reason: string };

/** How the gossip actor reaches the peer manager. */
export interface PeerManagerHooks {
  /** Ends the connection and punishes the peer for a consensus-invalid block or transaction it sent (a fatal fault: it is banned). */
  punish(nodeId: string, offence: Offence): void;
}

/** Messages of the gossip actor. */
export type GossipMsg =
  | { type: 'gossip/peer-up'; link: PeerLink }
  /** Internal: the chain's verdicts on blocks this actor submitted (it does not wait for them). */
  | { type: 'gossip/blocks-handled'; nodeId: string; hashes: string[]; results: SubmitBlockResult[]; compact: boolean }
  /** Internal: the mempool's verdicts on a batch of transfers a peer pushed (this actor does not wait for them). */
  | { type: 'gossip/txs-handled'; nodeId: string; results: AddTxResult[] }
  | { type: 'gossip/peer-down'; nodeId: string }
  | { type: 'gossip/message'; nodeId: string; message: Message }
  | { type: 'gossip/tick' };

/** How long a `chain/submit-blocks` may take before its blocks count as handled (a batch of full blocks can take seconds), ms. */
export const CHAIN_SUBMIT_TIMEOUT_MS = 120_000;
/** How long a batch of transfers may take through the mempool (signatures in worker threads) before it is dropped, ms. */
export const MEMPOOL_ADD_TIMEOUT_MS = 60_000;
/**
 * Most PUSHTRANSACTION batches handed to the mempool and not yet answered:
 * enough to keep every verification thread busy while earlier batches are
 * admitted, few enough that a flooding peer fills this actor's mailbox
 * (which the peer manager bounds) rather than the mempool's queue.
 */
export const MAX_TX_BATCHES_IN_MEMPOOL = 4;
/** Peers asked for high-bandwidth compact-block announcements (BIP 152: 3). */
export const MAX_HIGH_BANDWIDTH_PEERS = 3;
/** Recently connected or rebuilt blocks kept with their encodings, to answer GETBLOCK and GETBLOCKTXN without the store or a second encoding. */
export const RECENT_BLOCKS = 8;
/** Most blocks submitted to the chain and not yet answered: block downloads pause beyond it (bounds the chain's mailbox during sync). */
export const MAX_BLOCKS_IN_CHAIN_QUEUE = 512;

/** A block this node holds whole, with its ids and its frames, each encoded at most once. */
interface RecentBlock {
  block: Block;
  ids: BlockTxIds;
  blockFrame?: EncodedMessage;
  compactFrame?: EncodedMessage;
}

/** A compact block being rebuilt. */
interface PendingCompact {
  partial: PartialBlock;
  /** The peer that announced it and is asked for the missing transactions. */
  from: string;
  /** GETBLOCKTXN of peers this node relayed the compact block to, answered when it is complete. */
  waiters: Array<{ peer: string; indexes: number[] }>;
}

/** A bounded FIFO set: the seen-set of one peer. */
class KnownSet {
  private readonly set = new Set<string>();
  constructor(private readonly max: number) {}
  add(k: string): void {
    if (this.set.has(k)) return;
    this.set.add(k);
    if (this.set.size > this.max) this.set.delete(this.set.values().next().value as string);
  }
  has(k: string): boolean {
    return this.set.has(k);
  }
}

interface PeerState {
  link: PeerLink;
  knownBlocks: KnownSet;
  knownTxs: KnownSet;
  /** Whether the peer speaks compact blocks and GETBLOCKS (its protocol version). */
  compact: boolean;
  /** The peer asked for new blocks as CMPCTBLOCK at once (BIP 152 high-bandwidth mode). */
  sendCompact: boolean;
  /** This node asked the peer for high-bandwidth announcements. */
  askedCompact: boolean;
  /** Transactions to announce at the next flush. */
  txQueue: string[];
  /** Whether a GETLISTOFBLOCKS to this peer is outstanding. */
  syncing: boolean;
  /** The last hash of a full LISTOFBLOCKS whose continuation is still to be asked for. */
  continueAfter: string | undefined;
}

export interface GossipDeps {
  /** Consensus parameters (proof of work of compact-block headers is checked before relaying them). */
  params: NetworkParams;
  chain: ActorRef<ChainMsg>;
  mempool: ActorRef<MempoolMsg>;
  bus: EventBus;
  hooks: PeerManagerHooks;
  /** @default systemClock */
  clock?: Clock;
  /** Limits of the block download scheduler. */
  fetcher?: BlockFetcherInit;
  /**
   * Where the signatures of downloaded blocks start being checked as they
   * arrive, while the chain still connects earlier ones (the chain's
   * verifier takes the verdicts); without it the chain checks them itself.
   */
  signatures?: { prefetch(txs: readonly TransferTx[], ids: readonly string[]): void };
}

/**
 * The gossip actor (document 004's relaying): announces new blocks and
 * transactions by hash (BROADCASTBLOCK, BROADCASTTRANSACTION) to peers that
 * do not know them, fetches what it lacks (GETBLOCK/BLOCK,
 * GETTRANSACTIONS/PUSHTRANSACTION), answers peers' requests, and syncs a
 * peer's heavier chain with GETLISTOFBLOCKS (a block locator, so forks are
 * found) and GETBLOCK from every peer that has the blocks, re-requesting from
 * another peer when one stalls (the scheduling is {@link BlockFetcher}'s).
 * Nothing is relayed twice to the same peer.
 */
export class GossipActor implements Actor<GossipMsg> {
  private readonly peers = new Map<string, PeerState>();
  private readonly fetcher: BlockFetcher;
  private readonly clock: Clock;
  private unsubscribe: Array<() => void> = [];
  private ctx!: ActorContext<GossipMsg>;
  /** The chain's tip as its events tell it (compact blocks on it are relayed before validation). */
  private tipHash = '';
  private tipHeight = 0;
  private readonly recent = new Map<string, RecentBlock>();
  private readonly pendingCompact = new Map<string, PendingCompact>();
  /** Blocks handed to the chain whose verdict has not come back. */
  private blocksInChainQueue = 0;
  /** PUSHTRANSACTION batches the mempool has not answered yet. */
  private readonly txBatchesInMempool = new Set<Promise<void>>();
  /** Recent size of received blocks, bytes: rises at once with a larger block, falls slowly (sets the fetcher's in-flight scale). */
  private recentBlockBytes = MAX_BLOCK_BYTES;
  private readonly progress = new SyncProgress();

  constructor(private readonly deps: GossipDeps) {
    this.clock = deps.clock ?? systemClock;
    this.fetcher = new BlockFetcher(deps.fetcher);
  }

  start(ctx: ActorContext<GossipMsg>): void {
    this.ctx = ctx;
    const { bus } = this.deps;
    this.unsubscribe.push(
      bus.on('block-connected', (e) => this.remember(e.entry.hash, e.block, e.ids)),
      bus.on('tip-changed', (e) => {
        this.tipHash = e.tip.hash;
        this.tipHeight = e.tip.height;
        this.announceBlock(e.tip.hash, e.tip.height);
      }),
      bus.on('tx-accepted', (e) => {
        for (const p of this.peers.values()) if (!p.knownTxs.has(e.txid)) p.txQueue.push(e.txid);
      }),
    );
    ctx.every(GOSSIP_TICK_MS, { type: 'gossip/tick' });
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  async receive(msg: GossipMsg): Promise<void> {
    switch (msg.type) {
      case 'gossip/peer-up':
        await this.onPeerUp(msg.link);
        return;
      case 'gossip/peer-down':
        await this.onPeerDown(msg.nodeId);
        return;
      case 'gossip/message': {
        const peer = this.peers.get(msg.nodeId);
        if (peer) await this.onMessage(peer, msg.message);
        return;
      }
      case 'gossip/tick':
        this.onTick();
        for (const p of this.peers.values()) if (p.continueAfter !== undefined) await this.continueSync(p);
        return;
      case 'gossip/blocks-handled':
        await this.onBlocksHandled(msg.nodeId, msg.hashes, msg.results, msg.compact);
        return;
      case 'gossip/txs-handled':
        this.onTransactionsHandled(msg.nodeId, msg.results);
        return;
      default:
        assertNever(msg);
    }
  }

  private async onPeerUp(link: PeerLink): Promise<void> {
    const peer: PeerState = {
      link,
      knownBlocks: new KnownSet(MAX_KNOWN_INVENTORY),
      knownTxs: new KnownSet(MAX_KNOWN_INVENTORY),
      txQueue: [],
      syncing: false,
      continueAfter: undefined,
      compact: link.hello.version >= COMPACT_BLOCKS_PROTOCOL_VERSION,
      sendCompact: false,
      askedCompact: false,
    };
    this.peers.set(link.nodeId, peer);
    this.fetcher.addPeer(link.nodeId);
    peer.knownBlocks.add(link.hello.tip);
    this.progress.claim(link.hello.height);
    if (peer.compact) this.askCompact(peer, this.highBandwidthCount() < MAX_HIGH_BANDWIDTH_PEERS);
    const tip = await request(this.deps.chain, 'chain/get-tip', {});
    if (!this.tipHash) {
      this.tipHash = tip.hash;
      this.tipHeight = tip.height;
    }
    if (link.hello.chainWork > tip.chainWork) await this.requestHashes(peer);
  }

  private async onPeerDown(nodeId: string): Promise<void> {
    const peer = this.peers.get(nodeId);
    if (!peer) return;
    this.peers.delete(nodeId);
    for (const [hash, p] of this.pendingCompact) if (p.from === nodeId) this.pendingCompact.delete(hash);
    // Another peer takes its place as a high-bandwidth announcer.
    if (peer.askedCompact) {
      const next = [...this.peers.values()].find((p) => p.compact && !p.askedCompact);
      if (next) this.askCompact(next, true);
    }
    // Its outstanding requests go to other peers at once.
    const { requests, forgotten } = this.fetcher.removePeer(nodeId, this.clock.nowMs());
    this.sendRequests(requests);
    // Blocks only it had listed are forgotten: ask the heaviest remaining peer for its list instead.
    if (forgotten > 0) {
      let best: PeerState | undefined;
      for (const p of this.peers.values()) if (!best || p.link.hello.chainWork > best.link.hello.chainWork) best = p;
      if (best && !best.syncing) await this.requestHashes(best);
    }
  }

  /** Asks `peer` for the next list after a full one, when its wanted blocks are below half its cap. */
  private async continueSync(peer: PeerState): Promise<void> {
    const after = peer.continueAfter;
    if (after === undefined || peer.syncing || this.fetcher.wantedFrom(peer.link.nodeId) > MAX_WANTED_PER_PEER / 2) return;
    peer.continueAfter = undefined;
    await this.requestHashes(peer, after);
  }

  private async requestHashes(peer: PeerState, after?: string): Promise<void> {
    const locator = await request(this.deps.chain, 'chain/get-locator', {});
    peer.syncing = true;
    peer.link.send(message('GETLISTOFBLOCKS', { locator: after ? [after, ...locator].slice(0, MAX_LOCATOR_HASHES) : locator, limit: MAX_LIST_OF_BLOCKS }));
  }

  private async onMessage(peer: PeerState, msg: Message): Promise<void> {
    const { chain, mempool } = this.deps;
    switch (msg.method) {
      case 'BROADCASTBLOCK': {
        if (msg.payload.height !== undefined) this.progress.claim(msg.payload.height);
        for (const h of msg.payload.hashes) peer.knownBlocks.add(h);
        // A new tip is announced by a hash or a few; a longer list is only believed through a sync, which
        // lists our main chain's successors from this peer's own chain. It is not looked up hash by hash
        // first: a flood of long lists would cost the chain actor one request per hash.
        if (msg.payload.hashes.length > MAX_ANNOUNCED_UNKNOWN) {
          if (!peer.syncing) await this.requestHashes(peer);
          return;
        }
        const unknown: string[] = [];
        for (const h of msg.payload.hashes) if (!(await request(chain, 'chain/has-block', { hash: h }))) unknown.push(h);
        this.sendRequests(this.fetcher.want(unknown, peer.link.nodeId, this.clock.nowMs()));
        return;
      }
      case 'GETBLOCK': {
        const recent = this.recent.get(msg.payload.hash);
        if (recent) {
          peer.knownBlocks.add(msg.payload.hash);
          peer.link.send((recent.blockFrame ??= EncodedMessage.of(message('BLOCK', { block: recent.block }))));
          return;
        }
        const found = await request(chain, 'chain/get-block', { hash: msg.payload.hash });
        if (found) {
          peer.knownBlocks.add(msg.payload.hash);
          peer.link.send(message('BLOCK', { block: found.block }));
        } else {
          peer.link.send(message('REJECT', { message: 'GETBLOCK', code: 'not-found', reason: 'unknown block', hash: msg.payload.hash }));
        }
        return;
      }
      case 'BLOCK':
        this.onBlocks(peer, [{ block: msg.payload.block }], false);
        return;
      case 'BLOCKS':
        this.onBlocks(peer, msg.payload.blocks.map((block) => ({ block })), false);
        return;
      case 'GETBLOCKS':
        await this.onGetBlocks(peer, msg.payload.hashes);
        return;
      case 'SENDCMPCT':
        // BIP 152: only the version this node speaks turns announcements on or off.
        if (msg.payload.version === COMPACT_BLOCK_VERSION) peer.sendCompact = msg.payload.announce;
        return;
      case 'CMPCTBLOCK':
        await this.onCompactBlock(peer, msg.payload);
        return;
      case 'GETBLOCKTXN':
        await this.onGetBlockTxn(peer, msg.payload.hash, msg.payload.indexes);
        return;
      case 'BLOCKTXN':
        this.onBlockTxn(peer, msg.payload.hash, msg.payload.transactions);
        return;
      case 'GETLISTOFBLOCKS': {
        const limit = Math.min(msg.payload.limit ?? MAX_LIST_OF_BLOCKS, MAX_LIST_OF_BLOCKS);
        const hashes = await request(chain, 'chain/hashes-after', { locator: msg.payload.locator, stop: msg.payload.stop, limit });
        peer.link.send(message('LISTOFBLOCKS', { hashes }));
        return;
      }
      case 'LISTOFBLOCKS': {
        // Only an answer to our GETLISTOFBLOCKS is a list to download from; an unsolicited one is ignored.
        if (!peer.syncing) return;
        peer.syncing = false;
        const hashes = msg.payload.hashes;
        const unknown: string[] = [];
        for (const h of hashes) {
          peer.knownBlocks.add(h);
          if (!this.fetcher.isWanted(h) && !(await request(chain, 'chain/has-block', { hash: h }))) unknown.push(h);
        }
        this.sendRequests(this.fetcher.want(unknown, peer.link.nodeId, this.clock.nowMs()));
        // A full list means there is more: ask for the next batch from the last hash, right away while
        // this peer's share of the download table has room, else once it has drained (see onTick).
        if (hashes.length >= MAX_LIST_OF_BLOCKS) {
          peer.continueAfter = hashes[hashes.length - 1];
          await this.continueSync(peer);
        }
        return;
      }
      case 'PUSHTRANSACTION':
        await this.onTransactions(peer, msg.payload.transactions);
        return;
      case 'BROADCASTTRANSACTION': {
        for (const id of msg.payload.txids) peer.knownTxs.add(id);
        const missing = await request(mempool, 'mempool/missing', { txids: msg.payload.txids });
        for (let i = 0; i < missing.length; i += MAX_GETTRANSACTIONS_TXIDS) {
          peer.link.send(message('GETTRANSACTIONS', { txids: missing.slice(i, i + MAX_GETTRANSACTIONS_TXIDS) }));
        }
        return;
      }
      case 'GETTRANSACTIONS': {
        const txs: TransferTx[] = [];
        for (const id of msg.payload.txids) {
          const tx = await request(mempool, 'mempool/get', { txid: id });
          if (tx) {
            txs.push(tx);
            peer.knownTxs.add(id);
          }
        }
        for (let i = 0; i < txs.length; i += MAX_PUSH_TRANSACTIONS) peer.link.send(message('PUSHTRANSACTION', { transactions: txs.slice(i, i + MAX_PUSH_TRANSACTIONS) }));
        return;
      }
      case 'GETADDR':
      case 'ADDR':
        // Addresses belong to the peer manager, which answers and rate-limits them.
        return;
      case 'REJECT': {
        // A peer that cannot serve a block it was asked for stops being a source of it.
        const hash = msg.payload.hash;
        if ((msg.payload.message === 'GETBLOCK' || msg.payload.message === 'GETBLOCKS') && hash) this.sendRequests(this.fetcher.onNotFound(hash, peer.link.nodeId, this.clock.nowMs()));
        return;
      }
      case 'HELLO':
      case 'HEY':
      case 'PING':
      case 'PONG':
        // Handshake and liveness belong to the connection.
        return;
      default:
        assertNever(msg);
    }
  }

  /**
   * Blocks from a peer: each stops being wanted, and all go to the chain in
   * one `chain/submit-blocks` (a run extending the tip is connected as one
   * batch). The verdicts come back as a `gossip/blocks-handled` message, so
   * this actor keeps relaying and answering while the chain works.
   */
  private onBlocks(peer: PeerState, items: Array<{ block: Block; ids?: BlockTxIds }>, compact: boolean): void {
    const nodeId = peer.link.nodeId;
    const hashes = items.map(({ block }) => hashToHex(blockHash(block)));
    const blocks = items.map((item, i) => {
      const hash = hashes[i]!;
      peer.knownBlocks.add(hash);
      // Asked for (announced, listed in a sync): the chain stores it even below the tip's work.
      const requested = this.fetcher.isWanted(hash);
      this.fetcher.onBlock(hash, nodeId);
      return { ...item, requested };
    });
    if (!compact && this.deps.signatures) this.prefetchSignatures(blocks);
    this.blocksInChainQueue += items.length;
    this.noteBlockSizes(items);
    const handled = (results: SubmitBlockResult[]): void => this.ctx.deliver({ type: 'gossip/blocks-handled', nodeId, hashes, results, compact });
    request(this.deps.chain, 'chain/submit-blocks', { blocks, source: nodeId }, CHAIN_SUBMIT_TIMEOUT_MS).then(handled, () => handled([]));
    this.sendRequests(this.schedule());
  }

  /**
   * Starts checking the signatures of downloaded blocks (ones this node asked
   * for, with valid proof of work: nobody makes it verify for free) while the
   * chain works on earlier blocks; the txids computed for them go to the
   * chain with the blocks.
   */
  private prefetchSignatures(blocks: Array<{ block: Block; ids?: BlockTxIds; requested: boolean }>): void {
    const transfers: TransferTx[] = [];
    const transferIds: string[] = [];
    for (const item of blocks) {
      const { block } = item;
      if (!item.requested || block.txs.length < 2 || !checkProofOfWork(block.header, this.deps.params).ok) continue;
      const ids = (item.ids ??= blockTxIds(block));
      block.txs.forEach((tx, i) => {
        if (tx.type !== 'transfer') return;
        transfers.push(tx);
        transferIds.push(ids.ids[i]!);
      });
    }
    // One batch for the whole message: the pool splits it over its threads.
    if (transfers.length > 0) this.deps.signatures!.prefetch(transfers, transferIds);
  }

  private async onBlocksHandled(nodeId: string, hashes: string[], results: SubmitBlockResult[], compact: boolean): Promise<void> {
    this.blocksInChainQueue -= hashes.length;
    const peer = this.peers.get(nodeId);
    let orphan = false;
    results.forEach((r, i) => {
      switch (r.status) {
        case 'invalid':
          if (!peer) break;
          if (compact && (r.code === 'bad-merkle-root' || r.code === 'duplicate-tx')) {
            // A short-id collision rebuilt the wrong block: fetch it whole (BIP 152).
            this.sendRequests(this.fetcher.want([hashes[i]!], nodeId, this.clock.nowMs()));
          } else if (!compact) {
            // BIP 152: a block relayed as CMPCTBLOCK before validation with a valid header is never punished.
            this.refuse(peer, { kind: 'invalid-block', hash: r.hash, code: r.code, reason: r.reason });
          }
          break;
        case 'orphan':
          orphan = true;
          break;
        case 'connected':
        case 'reorg':
        case 'side-branch':
        case 'duplicate':
          break;
        default:
          assertNever(r);
      }
    });
    // Its ancestors are missing: find the fork point with a locator.
    if (orphan && peer && !peer.syncing) await this.requestHashes(peer);
    this.sendRequests(this.schedule());
  }

  /**
   * Scales the fetcher's in-flight limits to the size of the blocks received
   * lately: as many blocks in flight as the unscaled limits allow of
   * {@link MAX_BLOCK_BYTES} blocks, up to {@link MAX_IN_FLIGHT_SCALE} times
   * more. The estimate takes a larger block at once and forgets it slowly,
   * so a peer cannot make many small requests turn into as many large blocks.
   */
  private noteBlockSizes(items: ReadonlyArray<{ block: Block }>): void {
    for (const { block } of items) {
      const size = blockSize(block);
      this.recentBlockBytes = size >= this.recentBlockBytes ? size : this.recentBlockBytes * 0.95 + size * 0.05;
    }
    const scale = Math.floor(MAX_BLOCK_BYTES / Math.max(1, this.recentBlockBytes));
    this.fetcher.setInFlightScale(Math.min(MAX_IN_FLIGHT_SCALE, Math.max(1, scale)));
  }

  /** The fetcher's next requests, unless the chain already has a full queue of blocks to handle. */
  private schedule(): BlockRequest[] {
    return this.blocksInChainQueue >= MAX_BLOCKS_IN_CHAIN_QUEUE ? [] : this.fetcher.schedule(this.clock.nowMs());
  }

  /** GETBLOCKS: the blocks found, in BLOCKS messages of at most {@link BLOCKS_MESSAGE_BUDGET_BYTES} each; REJECT not-found for each unknown one. */
  private async onGetBlocks(peer: PeerState, hashes: string[]): Promise<void> {
    const found = await request(this.deps.chain, 'chain/get-blocks', { hashes });
    let batch: Block[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (batch.length > 0) peer.link.send(message('BLOCKS', { blocks: batch }));
      batch = [];
      bytes = 0;
    };
    found.forEach((block, i) => {
      const hash = hashes[i]!;
      if (!block) {
        flush();
        peer.link.send(message('REJECT', { message: 'GETBLOCKS', code: 'not-found', reason: 'unknown block', hash }));
        return;
      }
      peer.knownBlocks.add(hash);
      const size = jsonSizeEstimate(block);
      if (batch.length > 0 && (bytes + size > BLOCKS_MESSAGE_BUDGET_BYTES || batch.length >= MAX_BLOCKS_PER_MESSAGE)) flush();
      batch.push(block);
      bytes += size;
    });
    flush();
  }

  /** Tells `peer` whether to announce new blocks to this node as CMPCTBLOCK (BIP 152 SENDCMPCT). */
  private askCompact(peer: PeerState, announce: boolean): void {
    peer.askedCompact = announce;
    peer.link.send(message('SENDCMPCT', { announce, version: COMPACT_BLOCK_VERSION }));
  }

  private highBandwidthCount(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.askedCompact) n++;
    return n;
  }

  /** Keeps a whole block (bounded, oldest dropped) to answer GETBLOCK/GETBLOCKTXN and announce it compactly. */
  private remember(hash: string, block: Block, ids?: BlockTxIds): void {
    if (this.recent.has(hash)) return;
    this.recent.set(hash, { block, ids: ids ?? blockTxIds(block) });
    if (this.recent.size > RECENT_BLOCKS) this.recent.delete(this.recent.keys().next().value as string);
  }

  /**
   * CMPCTBLOCK (BIP 152): a header with valid proof of work on this node's
   * tip is relayed at once, as the same frame, to the peers that asked for
   * high-bandwidth announcements, before the block is rebuilt or validated;
   * then the block is rebuilt from the mempool and the missing transfers
   * asked for with GETBLOCKTXN. A compact block on another parent is treated
   * as an announcement (the block is fetched whole, as are those that cannot be rebuilt).
   */
  private async onCompactBlock(peer: PeerState, compact: CompactBlock): Promise<void> {
    const hash = headerHashHex(compact.header);
    peer.knownBlocks.add(hash);
    if (this.pendingCompact.has(hash) || this.recent.has(hash)) return;
    const { params } = this.deps;
    const header = compact.header.version !== BLOCK_VERSION ? reject('bad-version', `block version ${compact.header.version}`) : checkProofOfWork(compact.header, params);
    if (!header.ok) {
      this.refuse(peer, { kind: 'invalid-block', hash, code: header.code, reason: `compact block: ${header.reason}` });
      return;
    }
    const nodeId = peer.link.nodeId;
    if (hashToHex(compact.header.prevHash) !== this.tipHash) {
      if (!(await request(this.deps.chain, 'chain/has-block', { hash }))) this.sendRequests(this.fetcher.want([hash], nodeId, this.clock.nowMs()));
      return;
    }
    let frame: EncodedMessage | undefined;
    for (const q of this.peers.values()) {
      if (q === peer || !q.sendCompact || q.knownBlocks.has(hash)) continue;
      q.knownBlocks.add(hash);
      q.link.send((frame ??= EncodedMessage.of(message('CMPCTBLOCK', compact))));
    }
    const partial = PartialBlock.create(compact, MAX_BLOCK_TXS, txHash);
    if (typeof partial === 'string') {
      this.sendRequests(this.fetcher.want([hash], nodeId, this.clock.nowMs()));
      return;
    }
    const pending: PendingCompact = { partial, from: nodeId, waiters: [] };
    this.pendingCompact.set(hash, pending);
    if (compact.shortIds.length > 0) {
      const shortIds = new Set(compact.shortIds);
      const candidates: KnownTx[] = await request(this.deps.mempool, 'mempool/compact-candidates', { key: partial.key, shortIds });
      partial.fill(candidates);
    }
    const missing = partial.missing();
    if (missing.length === 0) this.completeCompact(hash, pending);
    else peer.link.send(message('GETBLOCKTXN', { hash, indexes: missing }));
  }

  /** BLOCKTXN: the transfers this node asked for; a wrong answer makes it fetch the whole block instead. */
  private onBlockTxn(peer: PeerState, hash: string, txs: Transaction[]): void {
    const pending = this.pendingCompact.get(hash);
    if (!pending || pending.from !== peer.link.nodeId) return;
    const known = txs.map((tx): KnownTx => {
      const h = txHash(tx);
      return { tx, hash: h, id: hashToHex(h) };
    });
    if (!pending.partial.fillMissing(known)) {
      this.pendingCompact.delete(hash);
      this.sendRequests(this.fetcher.want([hash], peer.link.nodeId, this.clock.nowMs()));
      return;
    }
    this.completeCompact(hash, pending);
  }

  /** A rebuilt block: answers the GETBLOCKTXN that waited for it, then goes to the chain with its ids. */
  private completeCompact(hash: string, pending: PendingCompact): void {
    this.pendingCompact.delete(hash);
    const done = pending.partial.complete();
    if (!done) return;
    this.remember(hash, done.block, done.ids);
    for (const w of pending.waiters) {
      const q = this.peers.get(w.peer);
      if (q) this.sendBlockTxn(q, hash, done.block, w.indexes);
    }
    const from = this.peers.get(pending.from);
    if (from) this.onBlocks(from, [{ block: done.block, ids: done.ids }], true);
  }

  /** GETBLOCKTXN: answered from a held block, or once the block being rebuilt is complete. */
  private async onGetBlockTxn(peer: PeerState, hash: string, indexes: number[]): Promise<void> {
    peer.knownBlocks.add(hash);
    const pending = this.pendingCompact.get(hash);
    if (pending) {
      pending.waiters.push({ peer: peer.link.nodeId, indexes });
      return;
    }
    const block = this.recent.get(hash)?.block ?? (await request(this.deps.chain, 'chain/get-block', { hash }))?.block;
    if (!block) {
      peer.link.send(message('REJECT', { message: 'GETBLOCKTXN', code: 'not-found', reason: 'unknown block', hash }));
      return;
    }
    this.sendBlockTxn(peer, hash, block, indexes);
  }

  private sendBlockTxn(peer: PeerState, hash: string, block: Block, indexes: number[]): void {
    if (indexes.some((i) => i >= block.txs.length)) {
      peer.link.send(message('REJECT', { message: 'GETBLOCKTXN', code: 'malformed', reason: `index ${indexes[indexes.length - 1]} of a block of ${block.txs.length} transactions`, hash }));
      return;
    }
    peer.link.send(message('BLOCKTXN', { hash, transactions: indexes.map((i) => block.txs[i]!) }));
  }

  /**
   * PUSHTRANSACTION: the transfers go to the mempool as one `mempool/add-many`
   * without waiting for its verdicts (they come back as a
   * `gossip/txs-handled` message), so the next batch's signatures are checked
   * in the worker threads while this one is admitted; at most
   * {@link MAX_TX_BATCHES_IN_MEMPOOL} batches are outstanding, then this actor
   * waits for the oldest. Each transfer is hashed here once and its hash
   * handed along; the peer knows these txids from now on, so none is
   * announced back to it.
   */
  private async onTransactions(peer: PeerState, txs: Transaction[]): Promise<void> {
    const transfers: TransferTx[] = [];
    for (const tx of txs) {
      if (tx.type !== 'transfer') {
        this.refuse(peer, { kind: 'invalid-transaction', txid: '', code: 'bad-coinbase-position', reason: 'relayed a coinbase outside a block' });
        return;
      }
      transfers.push(tx);
    }
    const hashes = transfers.map(txHash);
    for (const h of hashes) peer.knownTxs.add(hashToHex(h));
    while (this.txBatchesInMempool.size >= MAX_TX_BATCHES_IN_MEMPOOL) await Promise.race(this.txBatchesInMempool);
    const nodeId = peer.link.nodeId;
    const batch: Promise<void> = request(this.deps.mempool, 'mempool/add-many', { txs: transfers, hashes, source: nodeId }, MEMPOOL_ADD_TIMEOUT_MS).then(
      (results) => this.ctx.deliver({ type: 'gossip/txs-handled', nodeId, results }),
      // A mempool that did not answer in time (or restarted) loses this batch, never this actor's peers.
      () => undefined,
    );
    this.txBatchesInMempool.add(batch);
    void batch.finally(() => this.txBatchesInMempool.delete(batch));
  }

  /** The mempool's verdicts on a batch a peer pushed: refusals are answered (policy) or punished (consensus). */
  private onTransactionsHandled(nodeId: string, results: AddTxResult[]): void {
    const peer = this.peers.get(nodeId);
    if (!peer) return;
    for (const r of results) {
      // Duplicates are the normal noise of relaying: not worth a message.
      if (r.accepted || r.code === 'already-known') continue;
      if (this.refuse(peer, { kind: 'invalid-transaction', txid: r.txid, code: r.code, reason: r.reason })) {
        return;
      }
    }
  }

  /**
   * Answers a refused block or transaction: a policy refusal ({@link isPolicyOnly}, the one rule) gets a
   * REJECT and the connection stays; a consensus failure goes to the peer manager, which sends the REJECT
   * and ends the connection. Returns true when the peer was punished.
   */
  private refuse(peer: PeerState, offence: Offence): boolean {
    const item = offence.kind === 'invalid-block' ? 'block' : 'transaction';
    if (isPolicyOnly(offence.code, item)) {
      const hash = offence.kind === 'invalid-block' ? offence.hash : offence.txid;
      const method = offence.kind === 'invalid-block' ? 'BLOCK' : 'PUSHTRANSACTION';
      peer.link.send(message('REJECT', { message: method, code: offence.code, reason: offence.reason.slice(0, MAX_REJECT_REASON_LENGTH), ...(hash ? { hash } : {}) }));
      return false;
    }
    this.deps.hooks.punish(peer.link.nodeId, offence);
    return true;
  }

  /**
   * Sends the fetcher's requests: several blocks for one peer that speaks
   * GETBLOCKS go in one GETBLOCKS (fast sync, pipelined across peers),
   * otherwise one GETBLOCK each.
   */
  private sendRequests(requests: BlockRequest[]): void {
    const byPeer = new Map<string, string[]>();
    for (const r of requests) {
      let list = byPeer.get(r.peer);
      if (!list) byPeer.set(r.peer, (list = []));
      list.push(r.hash);
    }
    for (const [id, hashes] of byPeer) {
      const peer = this.peers.get(id);
      if (!peer) continue;
      if (peer.compact && hashes.length > 1) {
        for (let i = 0; i < hashes.length; i += MAX_GETBLOCKS_HASHES) peer.link.send(message('GETBLOCKS', { hashes: hashes.slice(i, i + MAX_GETBLOCKS_HASHES) }));
      } else {
        for (const hash of hashes) peer.link.send(message('GETBLOCK', { hash }));
      }
    }
  }

  private onTick(): void {
    const now = this.clock.nowMs();
    const requests = this.blocksInChainQueue >= MAX_BLOCKS_IN_CHAIN_QUEUE ? [] : this.fetcher.onTick(now);
    const progress = this.progress.sample(now, this.tipHeight);
    if (progress) this.deps.bus.publish(progress);
    for (const p of this.peers.values()) {
      if (p.txQueue.length > 0) {
        const batch = p.txQueue.splice(0, MAX_INVENTORY_ITEMS).filter((id) => !p.knownTxs.has(id));
        for (const id of batch) p.knownTxs.add(id);
        if (batch.length > 0) p.link.send(message('BROADCASTTRANSACTION', { txids: batch }));
      }
    }
    this.sendRequests(requests);
  }

  /**
   * Announces a new tip: as CMPCTBLOCK (encoded once for all of them) to the
   * peers that asked for high-bandwidth announcements, as BROADCASTBLOCK to
   * the others.
   */
  private announceBlock(hash: string, height: number): void {
    const recent = this.recent.get(hash);
    let broadcast: EncodedMessage | undefined;
    for (const p of this.peers.values()) {
      if (p.knownBlocks.has(hash)) continue;
      p.knownBlocks.add(hash);
      if (recent && p.sendCompact) {
        recent.compactFrame ??= EncodedMessage.of(message('CMPCTBLOCK', toCompactBlock(recent.block, recent.ids, compactNonce())));
        p.link.send(recent.compactFrame);
      } else {
        p.link.send((broadcast ??= EncodedMessage.of(message('BROADCASTBLOCK', { hashes: [hash], height }))));
      }
    }
  }
}

/** A fresh compact-block nonce (BIP 152: random per block, so that short-id collisions cannot be planned for every peer). */
function compactNonce(): number {
  return randomInt(0, 2 ** 48 - 1);
}

/** JSON bytes of a block, estimated from its binary size (hex doubles it, keys and numbers add about a fifth). */
function jsonSizeEstimate(block: Block): number {
  return blockSize(block) * 2.4 + 200;
}
