import type { Block } from '../core/block.js';
import type { RejectCode } from '../core/reject.js';
import type { TransferTx } from '../core/transaction.js';
import type { BlockIndexEntry, ChainTip } from '../store/block-store.js';

/**
 * Everything a peer reports about itself: consumed by its own actors (the
 * mempool and miner follow the chain), the NATS bridge and the devnet
 * summary. Published synchronously, in order, after the state change is
 * durable.
 */
export type NodeEvent =
  | { type: 'block-connected'; block: Block; entry: BlockIndexEntry }
  | { type: 'block-disconnected'; block: Block; entry: BlockIndexEntry }
  | { type: 'tip-changed'; tip: ChainTip; previous: ChainTip; reorgDepth: number }
  | { type: 'block-rejected'; hash: string; code: RejectCode; reason: string; source?: string }
  | { type: 'tx-accepted'; tx: TransferTx; txid: string; source?: string }
  | { type: 'tx-evicted'; txid: string; reason: 'confirmed-conflict' | 'mempool-full' | 'invalid-after-reorg' | 'expired' }
  | { type: 'peer-connected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound' }
  | { type: 'peer-disconnected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound'; reason: string }
  | { type: 'peer-banned'; nodeId: string; host: string; reason: string; untilMs: number }
  | { type: 'block-mined'; hash: string; height: number }
  | { type: 'mining-stats'; hashRate: number; workers: number; blocksWon: number }
  | { type: 'status'; state: 'started' | 'stopping' };

export type NodeEventType = NodeEvent['type'];
export type NodeEventOf<T extends NodeEventType> = Extract<NodeEvent, { type: T }>;

/**
 * A small synchronous, typed publish/subscribe bus. A listener that throws is
 * reported through `onListenerError` and never breaks the publisher.
 */
export class EventBus {
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to one event type. */
  on<T extends NodeEventType>(type: T, listener: (e: NodeEventOf<T>) => void): () => void {
    return this.subscribe((e) => {
      if (e.type === type) listener(e as NodeEventOf<T>);
    });
  }

  /** Resolves with the first event of `type` that satisfies `predicate`. */
  once<T extends NodeEventType>(type: T, predicate: (e: NodeEventOf<T>) => boolean = () => true): Promise<NodeEventOf<T>> {
    return new Promise((resolve) => {
      const off = this.on(type, (e) => {
        if (predicate(e)) {
          off();
          resolve(e);
        }
      });
    });
  }

  publish(e: NodeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
