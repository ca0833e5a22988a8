import { assertNever } from '../core/reject.js';
import { getPeers, joinTracker, TrackerError } from '../tracker/client.js';
import type { PeerManagerMsg } from './peer-manager.js';
import type { Actor, ActorContext, ActorRef } from './runtime/actor.js';

/** How often the tracker is asked for peers (and re-joined after a failure), ms. */
export const TRACKER_POLL_INTERVAL_MS = 10_000;

/** Messages of the tracker client actor. */
export type TrackerClientMsg = { type: 'tracker/poll' };

export interface TrackerClientDeps {
  host: string;
  port: number;
  /** Host and port other peers dial to reach this peer. */
  listenHost: string;
  listenPort: number;
  peerManager: ActorRef<PeerManagerMsg>;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  pollIntervalMs?: number;
  /** Told the PID each time the tracker gives one (the seed-001 greeting of the peer port names it). */
  onJoined?: (peerId: string) => void;
}

/**
 * Joins the tracker named in the config (document 001: `JOIN_CHAIN` → PID)
 * and feeds its member list (`GET_PEERS`) to the peer manager's address
 * book, periodically. A tracker that is down is retried on the next poll; a
 * tracker that forgot us (an `ERROR` for our PID) is joined again.
 */
export class TrackerClientActor implements Actor<TrackerClientMsg> {
  private peerId: string | undefined;

  constructor(private readonly deps: TrackerClientDeps) {}

  start(ctx: ActorContext<TrackerClientMsg>): void {
    ctx.self.offer({ type: 'tracker/poll' });
    ctx.every(this.deps.pollIntervalMs ?? TRACKER_POLL_INTERVAL_MS, { type: 'tracker/poll' });
  }

  async receive(msg: TrackerClientMsg): Promise<void> {
    switch (msg.type) {
      case 'tracker/poll':
        await this.poll();
        return;
      default:
        assertNever(msg.type);
    }
  }

  private async poll(): Promise<void> {
    const { host, port, listenHost, listenPort, log } = this.deps;
    try {
      if (!this.peerId) {
        this.peerId = (await joinTracker({ host, port, listenHost, listenPort })).peerId;
        log.info({ tracker: `${host}:${port}`, peerId: this.peerId }, 'joined tracker');
        this.deps.onJoined?.(this.peerId);
      }
      const peers = await getPeers({ host, port, peerId: this.peerId });
      const addresses = peers.filter((p) => !(p.port === listenPort && p.host === listenHost)).map((p) => ({ host: p.host, port: p.port }));
      this.deps.peerManager.offer({ type: 'pm/learn', addresses, from: 'tracker' });
    } catch (err) {
      if (err instanceof TrackerError) {
        log.warn({ tracker: `${host}:${port}`, code: err.code, err: err.message }, 'tracker request failed');
        if (err.code !== 'ERR_TRACKER_UNREACHABLE' && err.code !== 'ERR_TRACKER_TIMEOUT') this.peerId = undefined;
        return;
      }
      throw err;
    }
  }
}
