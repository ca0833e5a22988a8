import type { Block } from '../core/block.js';
import { blockHash } from '../core/block.js';
import { hashToHex } from '../core/hash.js';
import { assertNever, isPolicyOnly, type RejectCode, type RejectedItem } from '../core/reject.js';
import type { Transaction, TransferTx } from '../core/transaction.js';
import type { EventBus } from './events.js';
import type { HelloPayload, Message } from '../transport/messages.js';
import { message } from '../transport/messages.js';
import { MAX_GETTRANSACTIONS_TXIDS, MAX_INVENTORY_ITEMS, MAX_LIST_OF_BLOCKS, MAX_LOCATOR_HASHES, MAX_PUSH_TRANSACTIONS, MAX_REJECT_REASON_LENGTH } from '../transport/limits.js';
import type { ChainMsg, SubmitBlockResult } from './chain.js';
import type { AddTxResult, MempoolMsg } from './mempool.js';
import type { Actor, ActorContext, ActorRef } from './runtime/actor.js';
import { BlockFetcher, MAX_WANTED_PER_PEER, type BlockFetcherInit, type BlockRequest } from './block-fetcher.js';
import { systemClock, type Clock } from '../core/clock.js';
import { request } from './runtime/actor.js';

/** Housekeeping interval (stalls, announcements), ms. */
export const GOSSIP_TICK_MS = 50;
/**
 * Most unknown blocks one BROADCASTBLOCK may make us download directly. A
 * new tip is announced by one hash (a few after a reorg); more unknown hashes
 * are only believed through a sync (GETLISTOFBLOCKS to that peer).
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
  send(msg: Message): void;
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
  | { type: 'gossip/peer-down'; nodeId: string }
  | { type: 'gossip/message'; nodeId: string; message: Message }
  | { type: 'gossip/tick' };

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
  /** Transactions to announce at the next flush. */
  txQueue: string[];
  /** Whether a GETLISTOFBLOCKS to this peer is outstanding. */
  syncing: boolean;
  /** The last hash of a full LISTOFBLOCKS whose continuation is still to be asked for. */
  continueAfter: string | undefined;
}

export interface GossipDeps {
  chain: ActorRef<ChainMsg>;
  mempool: ActorRef<MempoolMsg>;
  bus: EventBus;
  hooks: PeerManagerHooks;
  /** @default systemClock */
  clock?: Clock;
  /** Limits of the block download scheduler. */
  fetcher?: BlockFetcherInit;
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
  private self!: ActorRef<GossipMsg>;

  constructor(private readonly deps: GossipDeps) {
    this.clock = deps.clock ?? systemClock;
    this.fetcher = new BlockFetcher(deps.fetcher);
  }

  start(ctx: ActorContext<GossipMsg>): void {
    this.self = ctx.self;
    const { bus } = this.deps;
    this.unsubscribe.push(
      bus.on('tip-changed', (e) => this.announceBlock(e.tip.hash, e.tip.height)),
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
    };
    this.peers.set(link.nodeId, peer);
    this.fetcher.addPeer(link.nodeId);
    peer.knownBlocks.add(link.hello.tip);
    const tip = await request(this.deps.chain, 'chain/get-tip', {});
    if (link.hello.chainWork > tip.chainWork) await this.requestHashes(peer);
  }

  private async onPeerDown(nodeId: string): Promise<void> {
    const peer = this.peers.get(nodeId);
    if (!peer) return;
    this.peers.delete(nodeId);
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
        const unknown: string[] = [];
        for (const h of msg.payload.hashes) {
          peer.knownBlocks.add(h);
          if (!(await request(chain, 'chain/has-block', { hash: h }))) unknown.push(h);
        }
        // A new tip is announced by a hash or a few; a long list of unknown hashes is only believed
        // through a sync, which lists our main chain's successors from this peer's own chain.
        if (unknown.length > MAX_ANNOUNCED_UNKNOWN) {
          if (!peer.syncing) await this.requestHashes(peer);
          return;
        }
        this.sendRequests(this.fetcher.want(unknown, peer.link.nodeId, this.clock.nowMs()));
        return;
      }
      case 'GETBLOCK': {
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
        await this.onBlock(peer, msg.payload.block);
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
        if (msg.payload.message === 'GETBLOCK' && hash) this.sendRequests(this.fetcher.onNotFound(hash, peer.link.nodeId, this.clock.nowMs()));
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

  private async onBlock(peer: PeerState, block: Block): Promise<void> {
    const hash = hashToHex(blockHash(block));
    peer.knownBlocks.add(hash);
    // Asked for (announced, listed in a sync): the chain stores it even below the tip's work.
    const requested = this.fetcher.isWanted(hash);
    this.fetcher.onBlock(hash, peer.link.nodeId);
    const r = await request(this.deps.chain, 'chain/submit-block', { block, source: peer.link.nodeId, requested });
    switch (r.status) {
      case 'invalid':
        this.refuse(peer, { kind: 'invalid-block', hash, code: r.code, reason: r.reason });
        break;
      case 'orphan':
        // Its ancestors are missing: find the fork point with a locator.
        if (!peer.syncing && this.peers.has(peer.link.nodeId)) await this.requestHashes(peer);
        break;
      case 'connected':
      case 'reorg':
      case 'side-branch':
      case 'duplicate':
        break;
      default:
        assertNever(r);
    }
    this.sendRequests(this.fetcher.schedule(this.clock.nowMs()));
  }

  private async onTransactions(peer: PeerState, txs: Transaction[]): Promise<void> {
    const transfers: TransferTx[] = [];
    for (const tx of txs) {
      if (tx.type !== 'transfer') {
        this.refuse(peer, { kind: 'invalid-transaction', txid: '', code: 'bad-coinbase-position', reason: 'relayed a coinbase outside a block' });
        return;
      }
      transfers.push(tx);
    }
    const results = await request(this.deps.mempool, 'mempool/add-many', { txs: transfers, source: peer.link.nodeId });
    // The mempool names each transfer's txid in its result, so none is hashed twice. The seen-set is
    // complete before the next tick flushes announcements: nothing is announced back to this peer.
    for (const r of results) peer.knownTxs.add(r.txid);
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

  /** Sends the fetcher's GETBLOCK requests to their peers. */
  private sendRequests(requests: BlockRequest[]): void {
    for (const r of requests) this.peers.get(r.peer)?.link.send(message('GETBLOCK', { hash: r.hash }));
  }

  private onTick(): void {
    const requests = this.fetcher.onTick(this.clock.nowMs());
    for (const p of this.peers.values()) {
      if (p.txQueue.length > 0) {
        const batch = p.txQueue.splice(0, MAX_INVENTORY_ITEMS).filter((id) => !p.knownTxs.has(id));
        for (const id of batch) p.knownTxs.add(id);
        if (batch.length > 0) p.link.send(message('BROADCASTTRANSACTION', { txids: batch }));
      }
    }
    this.sendRequests(requests);
  }

  private announceBlock(hash: string, height: number): void {
    for (const p of this.peers.values()) {
      if (p.knownBlocks.has(hash)) continue;
      p.knownBlocks.add(hash);
      p.link.send(message('BROADCASTBLOCK', { hashes: [hash], height }));
    }
  }
}
