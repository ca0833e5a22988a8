import type { ChainEvent } from './chain.js';
import type { MempoolEvent } from './mempool.js';
import type { MinerEvent } from './miner.js';
import type { PeerEvent } from './peer-manager.js';
import type { SyncProgressEvent } from './sync-progress.js';

/** The node's lifecycle, published by the assembly that starts and stops the actors. */
export type LifecycleEvent = { type: 'status'; state: 'started' | 'stopping' };

/**
 * Everything a peer reports about itself: consumed by its own actors (the
 * mempool and miner follow the chain), the NATS bridge, the HTTP API and the
 * devnet summary. Each actor declares its own events beside itself (as
 * lodestar's `chain/emitter.ts`); this is their union. Published
 * synchronously, in order, after the state change is durable.
 */
export type NodeEvent = ChainEvent | MempoolEvent | MinerEvent | PeerEvent | SyncProgressEvent | LifecycleEvent;

export type NodeEventType = NodeEvent['type'];
export type NodeEventOf<T extends NodeEventType> = Extract<NodeEvent, { type: T }>;

/**
 * A small synchronous, typed publish/subscribe bus. A listener that throws is
 * reported through `onListenerError` and never breaks the publisher.
 */
export class EventBus {
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private failed = 0;
  constructor(private readonly onListenerError: (err: unknown, event: NodeEvent) => void = () => undefined) {}

  /** Deliveries that failed: listeners that threw (a full mailbox among them). */
  get failedDeliveries(): number {
    return this.failed;
  }

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
        this.failed++;
        this.onListenerError(err, e);
      }
    }
  }
}
