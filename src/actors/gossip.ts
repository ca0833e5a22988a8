import type { Block } from '../core/block.js';
import { blockHash } from '../core/block.js';
import { hashToHex } from '../core/hash.js';
import { assertNever, isPolicyOnly, type RejectCode } from '../core/reject.js';
import type { Transaction, TransferTx } from '../core/transaction.js';
import type { EventBus } from './events.js';
import type { AddrEntry, HelloPayload, Message } from '../transport/messages.js';
import { message } from '../transport/messages.js';
import { MAX_GETTRANSACTIONS_TXIDS, MAX_INVENTORY_ITEMS, MAX_LIST_OF_BLOCKS, MAX_LOCATOR_HASHES, MAX_PUSH_TRANSACTIONS } from '../transport/limits.js';
import type { ChainMsg, SubmitBlockResult } from './chain.js';
import type { AddTxResult, MempoolMsg } from './mempool.js';
import type { Actor, ActorContext, ActorRef } from './runtime/actor.js';

/** Most blocks requested from one peer at once. */
export const MAX_BLOCKS_IN_FLIGHT_PER_PEER = 16;
/** Most blocks requested from all peers at once (keeps the orphan pool small during sync). */
export const MAX_BLOCKS_IN_FLIGHT = 128;
/** A block request unanswered this long goes to another peer, ms. */
export const BLOCK_STALL_TIMEOUT_MS = 5_000;
/** A wanted block is forgotten after this many stalled requests. */
export const MAX_BLOCK_REQUESTS = 5;
/** Housekeeping interval (stalls, announcements), ms. */
export const GOSSIP_TICK_MS = 50;
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

/** How the gossip actor reaches the peer manager. */
export interface PeerManagerHooks {
  /** Ends the connection and bans the peer for misbehaviour (a consensus-invalid block or transaction). */
  punish(nodeId: string, reason: string): void;
  /** Addresses to answer GETADDR with. */
  addresses(): AddrEntry[];
  /** Addresses learnt from ADDR. */
  learn(addresses: AddrEntry[], from: string): void;
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
  /** Block hashes requested from this peer → when. */
  inFlight: Map<string, number>;
  /** Transactions to announce at the next flush. */
  txQueue: string[];
  /** Whether a GETLISTOFBLOCKS to this peer is outstanding. */
  syncing: boolean;
}

export interface GossipDeps {
  chain: ActorRef<ChainMsg>;
  mempool: ActorRef<MempoolMsg>;
  bus: EventBus;
  hooks: PeerManagerHooks;
  /** Injected clock, ms. */
  now?: () => number;
}

/**
 * The gossip actor (document 004's relaying): announces new blocks and
 * transactions by hash (BROADCASTBLOCK, BROADCASTTRANSACTION) to peers that
 * do not know them, fetches what it lacks (GETBLOCK/BLOCK,
 * GETTRANSACTIONS/PUSHTRANSACTION), answers peers' requests, and syncs a
 * peer's heavier chain with GETLISTOFBLOCKS (a block locator, so forks are
 * found) and GETBLOCK from every peer that has the blocks, re-requesting from
 * another peer when one stalls. Nothing is relayed twice to the same peer.
 */
export class GossipActor implements Actor<GossipMsg> {
  private readonly peers = new Map<string, PeerState>();
  /** Blocks wanted, in the order learnt, with the peers known to have each. */
  private readonly wanted = new Map<string, Set<string>>();
  /** Stalled requests per wanted block. */
  private readonly stalls = new Map<string, number>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: Array<() => void> = [];
  private self!: ActorRef<GossipMsg>;

  constructor(private readonly deps: GossipDeps) {
    this.now = deps.now ?? Date.now;
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
    this.timer = setInterval(() => this.self.offer({ type: 'gossip/tick' }), GOSSIP_TICK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
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
      inFlight: new Map(),
      txQueue: [],
      syncing: false,
    };
    this.peers.set(link.nodeId, peer);
    peer.knownBlocks.add(link.hello.tip);
    const tip = await this.deps.chain.ask<{ chainWork: bigint }>((reply) => ({ type: 'chain/get-tip', reply }));
    if (link.hello.chainWork > tip.chainWork) await this.requestHashes(peer);
  }

  private async onPeerDown(nodeId: string): Promise<void> {
    const peer = this.peers.get(nodeId);
    if (!peer) return;
    this.peers.delete(nodeId);
    const wantedBefore = this.wanted.size;
    for (const hash of [...this.wanted.keys()]) this.dropSource(hash, nodeId);
    // Its outstanding requests go to other peers at once.
    if (peer.inFlight.size > 0) this.schedule();
    // Blocks only it had listed are forgotten: ask the heaviest remaining peer for its list instead.
    if (this.wanted.size < wantedBefore) {
      let best: PeerState | undefined;
      for (const p of this.peers.values()) if (!best || p.link.hello.chainWork > best.link.hello.chainWork) best = p;
      if (best && !best.syncing) await this.requestHashes(best);
    }
  }

  /** Forgets that `nodeId` has `hash`; a block nobody is known to have is no longer wanted. */
  private dropSource(hash: string, nodeId: string): void {
    const sources = this.wanted.get(hash);
    if (!sources) return;
    sources.delete(nodeId);
    if (sources.size === 0) {
      this.wanted.delete(hash);
      this.stalls.delete(hash);
    }
  }

  private async requestHashes(peer: PeerState, after?: string): Promise<void> {
    const locator = await this.deps.chain.ask<string[]>((reply) => ({ type: 'chain/get-locator', reply }));
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
          if (!(await chain.ask<boolean>((reply) => ({ type: 'chain/has-block', hash: h, reply })))) unknown.push(h);
        }
        this.want(unknown, peer);
        return;
      }
      case 'GETBLOCK': {
        const found = await chain.ask<{ block: Block } | undefined>((reply) => ({ type: 'chain/get-block', hash: msg.payload.hash, reply }));
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
        const hashes = await chain.ask<string[]>((reply) => ({ type: 'chain/hashes-after', locator: msg.payload.locator, stop: msg.payload.stop, limit, reply }));
        peer.link.send(message('LISTOFBLOCKS', { hashes }));
        return;
      }
      case 'LISTOFBLOCKS': {
        peer.syncing = false;
        const hashes = msg.payload.hashes;
        const unknown: string[] = [];
        for (const h of hashes) {
          peer.knownBlocks.add(h);
          if (!this.wanted.has(h) && !(await chain.ask<boolean>((reply) => ({ type: 'chain/has-block', hash: h, reply })))) unknown.push(h);
        }
        this.want(unknown, peer);
        // A full list means there is more: ask for the next batch right away, from the last hash.
        if (hashes.length >= MAX_LIST_OF_BLOCKS) await this.requestHashes(peer, hashes[hashes.length - 1]);
        return;
      }
      case 'PUSHTRANSACTION':
        await this.onTransactions(peer, msg.payload.transactions);
        return;
      case 'BROADCASTTRANSACTION': {
        for (const id of msg.payload.txids) peer.knownTxs.add(id);
        const missing = await mempool.ask<string[]>((reply) => ({ type: 'mempool/missing', txids: msg.payload.txids, reply }));
        for (let i = 0; i < missing.length; i += MAX_GETTRANSACTIONS_TXIDS) {
          peer.link.send(message('GETTRANSACTIONS', { txids: missing.slice(i, i + MAX_GETTRANSACTIONS_TXIDS) }));
        }
        return;
      }
      case 'GETTRANSACTIONS': {
        const txs: TransferTx[] = [];
        for (const id of msg.payload.txids) {
          const tx = await mempool.ask<TransferTx | undefined>((reply) => ({ type: 'mempool/get', txid: id, reply }));
          if (tx) {
            txs.push(tx);
            peer.knownTxs.add(id);
          }
        }
        for (let i = 0; i < txs.length; i += MAX_PUSH_TRANSACTIONS) peer.link.send(message('PUSHTRANSACTION', { transactions: txs.slice(i, i + MAX_PUSH_TRANSACTIONS) }));
        return;
      }
      case 'GETADDR':
        peer.link.send(message('ADDR', { addresses: this.deps.hooks.addresses() }));
        return;
      case 'ADDR':
        this.deps.hooks.learn(msg.payload.addresses, peer.link.nodeId);
        return;
      case 'REJECT': {
        // A peer that cannot serve a block it was asked for stops being a source of it.
        const hash = msg.payload.hash;
        if (msg.payload.message === 'GETBLOCK' && hash && peer.inFlight.delete(hash)) {
          this.dropSource(hash, peer.link.nodeId);
          this.schedule();
        }
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
    peer.inFlight.delete(hash);
    this.wanted.delete(hash);
    this.stalls.delete(hash);
    const r = await this.deps.chain.ask<SubmitBlockResult>((reply) => ({ type: 'chain/submit-block', block, source: peer.link.nodeId, reply }));
    switch (r.status) {
      case 'invalid':
        this.punishIf(peer, r.code, `invalid block ${hash}: ${r.reason}`);
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
    this.schedule();
  }

  private async onTransactions(peer: PeerState, txs: Transaction[]): Promise<void> {
    const transfers: TransferTx[] = [];
    for (const tx of txs) {
      if (tx.type !== 'transfer') {
        this.punishIf(peer, 'bad-coinbase-position', 'relayed a coinbase outside a block');
        return;
      }
      transfers.push(tx);
    }
    const results = await this.deps.mempool.ask<AddTxResult[]>((reply) => ({ type: 'mempool/add-many', txs: transfers, source: peer.link.nodeId, reply }));
    // The mempool names each transfer's txid in its result, so none is hashed twice. The seen-set is
    // complete before the next tick flushes announcements: nothing is announced back to this peer.
    for (const r of results) peer.knownTxs.add(r.txid);
    for (const r of results) {
      if (!r.accepted && !isPolicyOnly(r.code)) {
        this.punishIf(peer, r.code, `invalid transaction ${r.txid}: ${r.reason}`);
        return;
      }
    }
  }

  private punishIf(peer: PeerState, code: RejectCode, reason: string): void {
    if (isPolicyOnly(code)) return;
    this.deps.hooks.punish(peer.link.nodeId, reason);
  }

  private want(hashes: string[], from: PeerState): void {
    for (const h of hashes) {
      let sources = this.wanted.get(h);
      if (!sources) this.wanted.set(h, (sources = new Set()));
      sources.add(from.link.nodeId);
    }
    if (hashes.length > 0) this.schedule();
  }

  /** Hands wanted blocks to peers that have them, within the in-flight limits, oldest first. */
  private schedule(): void {
    let total = 0;
    for (const p of this.peers.values()) total += p.inFlight.size;
    for (const [hash, sources] of this.wanted) {
      if (total >= MAX_BLOCKS_IN_FLIGHT) return;
      if ([...this.peers.values()].some((p) => p.inFlight.has(hash))) continue;
      let best: PeerState | undefined;
      for (const id of sources) {
        const p = this.peers.get(id);
        if (p && p.inFlight.size < MAX_BLOCKS_IN_FLIGHT_PER_PEER && (!best || p.inFlight.size < best.inFlight.size)) best = p;
      }
      if (!best) continue;
      best.inFlight.set(hash, this.now());
      best.link.send(message('GETBLOCK', { hash }));
      total++;
    }
  }

  private onTick(): void {
    const now = this.now();
    let stalled = false;
    for (const p of this.peers.values()) {
      let peerStalled = false;
      for (const [hash, at] of p.inFlight) {
        if (now - at < BLOCK_STALL_TIMEOUT_MS) continue;
        peerStalled = true;
        p.inFlight.delete(hash);
        stalled = true;
        const stalls = (this.stalls.get(hash) ?? 0) + 1;
        this.stalls.set(hash, stalls);
        if (stalls >= MAX_BLOCK_REQUESTS) {
          // Nobody delivers it: forget the block; a later announcement or sync asks again.
          this.wanted.delete(hash);
          this.stalls.delete(hash);
          continue;
        }
        // Prefer another peer next time: this one stalled.
        const sources = this.wanted.get(hash);
        if (sources && sources.size > 1) sources.delete(p.link.nodeId);
        else if (sources) for (const other of this.peers.keys()) sources.add(other);
      }
      // A peer that stalls is asked for nothing another peer can also send.
      if (peerStalled) for (const sources of this.wanted.values()) if (sources.size > 1) sources.delete(p.link.nodeId);
      if (p.txQueue.length > 0) {
        const batch = p.txQueue.splice(0, MAX_INVENTORY_ITEMS).filter((id) => !p.knownTxs.has(id));
        for (const id of batch) p.knownTxs.add(id);
        if (batch.length > 0) p.link.send(message('BROADCASTTRANSACTION', { txids: batch }));
      }
    }
    if (stalled || this.wanted.size > 0) this.schedule();
  }

  private announceBlock(hash: string, height: number): void {
    for (const p of this.peers.values()) {
      if (p.knownBlocks.has(hash)) continue;
      p.knownBlocks.add(hash);
      p.link.send(message('BROADCASTBLOCK', { hashes: [hash], height }));
    }
  }
}
