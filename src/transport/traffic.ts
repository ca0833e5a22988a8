/**
 * Messages and bytes of the peer protocol by method and direction, summed
 * over every connection that shares one {@link TrafficCounters} (a peer
 * manager hands the same one to all its connections, so the totals outlive
 * the connections). Bytes are whole frames on the wire: the payload as sent
 * (compressed when it was) plus the 0x04 terminator; the id line exchanged
 * before the first frame is not a message and is not counted here.
 */

/** Messages and bytes of one method in one direction since the counters were made. */
export interface MethodTraffic {
  method: string;
  /** Messages. */
  messages: number;
  /** Bytes of their frames, terminator included. */
  bytes: number;
}

/** A copy of the counters: per method, received and sent, sorted by method. */
export interface TrafficSnapshot {
  received: MethodTraffic[];
  sent: MethodTraffic[];
}

type Totals = Map<string, { messages: number; bytes: number }>;

export class TrafficCounters {
  private readonly received: Totals = new Map();
  private readonly sent: Totals = new Map();

  /** Counts one received message of `method` whose frame took `bytes` bytes on the wire. */
  countReceived(method: string, bytes: number): void {
    add(this.received, method, bytes);
  }

  /** Counts one sent message of `method` whose frame took `bytes` bytes on the wire. */
  countSent(method: string, bytes: number): void {
    add(this.sent, method, bytes);
  }

  snapshot(): TrafficSnapshot {
    return { received: list(this.received), sent: list(this.sent) };
  }
}

function add(totals: Totals, method: string, bytes: number): void {
  const t = totals.get(method);
  if (t) {
    t.messages++;
    t.bytes += bytes;
  } else totals.set(method, { messages: 1, bytes });
}

function list(totals: Totals): MethodTraffic[] {
  return [...totals].map(([method, t]) => ({ method, messages: t.messages, bytes: t.bytes })).sort((a, b) => (a.method < b.method ? -1 : a.method > b.method ? 1 : 0));
}
