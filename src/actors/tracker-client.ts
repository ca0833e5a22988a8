import { assertNever } from '../core/reject.js';
import { getPeers, joinTracker, TrackerError } from '../tracker/client.js';
import type { TrackerPeer } from '../tracker/protocol.js';
import type { PeerManagerMsg } from './peer-manager.js';
import type { Actor, ActorContext, ActorRef, Reply } from './runtime/actor.js';

/** How often the tracker is asked for peers (and re-joined after a failure), ms. */
export const TRACKER_POLL_INTERVAL_MS = 10_000;

/** What the tracker client last heard from its tracker. */
export interface TrackerMembers {
  /** This peer's PID, undefined until joined. */
  peerId: string | undefined;
  /** The members of the last `GET_PEERS` answer (this peer included), in the tracker's order. */
  members: TrackerPeer[];
  /** When that answer arrived, ms since the epoch; undefined before the first. */
  updatedAt: number | undefined;
}

/** Messages of the tracker client actor. */
export type TrackerClientMsg =
  | { type: 'tracker/poll' }
  /** The members last heard; with `refresh`, asks the tracker first (document 003's "peer list"). */
  | { type: 'tracker/members'; refresh?: boolean; reply: Reply<TrackerMembers> }
  /** Asks the tracker now and has the peer manager dial every other member at once; replies with the members (document 003's "connect peers"). */
  | { type: 'tracker/connect-all'; reply: Reply<{ members: TrackerMembers; dialing: number }> };

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
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

/**
 * Joins the tracker named in the config (document 001: `JOIN_CHAIN` → PID)
 * and feeds its member list (`GET_PEERS`) to the peer manager's address
 * book, periodically. A tracker that is down is retried on the next poll; a
 * tracker that forgot us (an `ERROR` for our PID) is joined again.
 */
export class TrackerClientActor implements Actor<TrackerClientMsg> {
  private peerId: string | undefined;
  private members: TrackerPeer[] = [];
  private updatedAt: number | undefined;

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
      case 'tracker/members':
        if (msg.refresh) await this.poll();
        msg.reply.resolve(this.snapshot());
        return;
      case 'tracker/connect-all': {
        const others = await this.poll();
        const dialing = await this.deps.peerManager.ask<number>((reply) => ({ type: 'pm/dial-now', addresses: others, reply }));
        msg.reply.resolve({ members: this.snapshot(), dialing });
        return;
      }
      default:
        assertNever(msg);
    }
  }

  private snapshot(): TrackerMembers {
    return { peerId: this.peerId, members: [...this.members], updatedAt: this.updatedAt };
  }

  /** Joins if needed, reads the members and feeds the others to the peer manager; returns those others (none when the tracker failed). */
  private async poll(): Promise<Array<{ host: string; port: number }>> {
    const { host, port, listenHost, listenPort, log } = this.deps;
    try {
      if (!this.peerId) {
        this.peerId = (await joinTracker({ host, port, listenHost, listenPort })).peerId;
        log.info({ tracker: `${host}:${port}`, peerId: this.peerId }, 'joined tracker');
        this.deps.onJoined?.(this.peerId);
      }
      const peers = await getPeers({ host, port, peerId: this.peerId });
      this.members = peers;
      this.updatedAt = (this.deps.now ?? Date.now)();
      const addresses = peers.filter((p) => p.peerId !== this.peerId && !(p.port === listenPort && p.host === listenHost)).map((p) => ({ host: p.host, port: p.port }));
      this.deps.peerManager.offer({ type: 'pm/learn', addresses, from: 'tracker' });
      return addresses;
    } catch (err) {
      if (err instanceof TrackerError) {
        log.warn({ tracker: `${host}:${port}`, code: err.code, err: err.message }, 'tracker request failed');
        if (err.code !== 'ERR_TRACKER_UNREACHABLE' && err.code !== 'ERR_TRACKER_TIMEOUT') this.peerId = undefined;
        return [];
      }
      throw err;
    }
  }
}
