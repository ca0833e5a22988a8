/**
 * Inbound eviction: good peers are protected, the crowded group loses its
 * youngest connection, and when everyone is protected nobody is evicted.
 */
import t from 'tap';
import { selectEvictionVictim, type EvictionCandidate } from '../../src/actors/eviction.js';

const peer = (id: string, over: Partial<EvictionCandidate> = {}): EvictionCandidate => ({
  id,
  connectedAt: 0,
  latencyMs: undefined,
  lastBlockAt: 0,
  lastTxAt: 0,
  group: id,
  authenticated: false,
  ...over,
});

t.test('a flood from one group evicts its own youngest connection, never the good peers', async (t) => {
  const good = [
    ...Array.from({ length: 8 }, (_, i) => peer(`fast${i}`, { latencyMs: 5 + i, connectedAt: 100 })),
    ...Array.from({ length: 4 }, (_, i) => peer(`miner${i}`, { lastBlockAt: 1_000 + i, connectedAt: 100 })),
    ...Array.from({ length: 4 }, (_, i) => peer(`relay${i}`, { lastTxAt: 1_000 + i, connectedAt: 100 })),
  ];
  const flood = Array.from({ length: 16 }, (_, i) => peer(`x${i}`, { group: '6.6.0.0/16', connectedAt: 200 + i, latencyMs: 500 }));
  const victim = selectEvictionVictim([...good, ...flood]);
  t.equal(victim?.id, 'x15', 'the youngest of the largest group');
});

t.test('every candidate protected: no victim', async (t) => {
  t.equal(selectEvictionVictim([peer('a', { latencyMs: 1 })]), undefined);
  t.equal(selectEvictionVictim([]), undefined);
});

t.test('long-lived authenticated peers are kept over newcomers', async (t) => {
  const old = Array.from({ length: 4 }, (_, i) => peer(`old${i}`, { connectedAt: i, authenticated: true, group: 'g' }));
  const young = Array.from({ length: 4 }, (_, i) => peer(`new${i}`, { connectedAt: 1_000 + i, group: 'g' }));
  const victim = selectEvictionVictim([...old, ...young]);
  t.match(victim?.id, /^new/);
});
