/*
 * Which inbound peer to drop when a new one arrives and every inbound slot
 * is taken, after Bitcoin Core's `AttemptToEvictConnection`: peers with
 * qualities an attacker cannot fake cheaply are protected, and the victim
 * comes from the address group holding the most connections, so a flood from
 * one place displaces its own connections rather than good peers. Pure.
 */

/** One evictable inbound connection as the peer manager sees it. */
export interface EvictionCandidate {
  /** Identifies the connection to the caller. */
  id: string;
  /** When the handshake completed, ms. */
  connectedAt: number;
  /** Round-trip time of the last answered PING, ms (undefined: never measured). */
  latencyMs: number | undefined;
  /** Last time it sent a block, ms (0: never). */
  lastBlockAt: number;
  /** Last time it sent transactions, ms (0: never). */
  lastTxAt: number;
  /** Address group (`addressGroup`): its connections count as one operator's. */
  group: string;
  /** Proved an identity key in the handshake. */
  authenticated: boolean;
}

/** Peers kept for the lowest latency (Core: 8; the attacker cannot move closer cheaply). */
export const PROTECT_BY_LATENCY = 8;
/** Peers kept for sending blocks most recently (Core: 4; costs real work). */
export const PROTECT_BY_BLOCKS = 4;
/** Peers kept for sending transactions most recently (Core: 4). */
export const PROTECT_BY_TRANSACTIONS = 4;

function dropBest(list: EvictionCandidate[], n: number, better: (a: EvictionCandidate, b: EvictionCandidate) => number, worthy: (c: EvictionCandidate) => boolean): EvictionCandidate[] {
  const sorted = [...list].sort(better);
  const keep = new Set(sorted.filter(worthy).slice(0, n));
  return list.filter((c) => !keep.has(c));
}

/**
 * The connection to evict, or undefined when every candidate is protected
 * (the newcomer is then refused). Protects, in order: the lowest latencies,
 * the latest block senders, the latest transaction senders, then the older
 * half of the rest (authenticated peers first). From what remains, the
 * group with the most connections loses its youngest.
 */
export function selectEvictionVictim(candidates: readonly EvictionCandidate[]): EvictionCandidate | undefined {
  let rest = [...candidates];
  rest = dropBest(rest, PROTECT_BY_LATENCY, (a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity), (c) => c.latencyMs !== undefined);
  rest = dropBest(rest, PROTECT_BY_BLOCKS, (a, b) => b.lastBlockAt - a.lastBlockAt, (c) => c.lastBlockAt > 0);
  rest = dropBest(rest, PROTECT_BY_TRANSACTIONS, (a, b) => b.lastTxAt - a.lastTxAt, (c) => c.lastTxAt > 0);
  rest = dropBest(rest, Math.floor(rest.length / 2), (a, b) => Number(b.authenticated) - Number(a.authenticated) || a.connectedAt - b.connectedAt, () => true);
  if (rest.length === 0) return undefined;
  const groups = new Map<string, EvictionCandidate[]>();
  for (const c of rest) {
    const g = groups.get(c.group);
    if (g) g.push(c);
    else groups.set(c.group, [c]);
  }
  let worst: EvictionCandidate[] = [];
  for (const g of groups.values()) {
    const youngest = (xs: EvictionCandidate[]) => Math.max(...xs.map((c) => c.connectedAt));
    if (g.length > worst.length || (g.length === worst.length && youngest(g) > youngest(worst))) worst = g;
  }
  return worst.reduce((a, b) => (b.connectedAt > a.connectedAt ? b : a));
}
