/**
 * The block download scheduler alone, driven by a fake clock: which block is
 * requested from which peer, the in-flight limits, stalls, not-found answers
 * and departed peers.
 */
import t from 'tap';
import {
  BLOCK_STALL_TIMEOUT_MS,
  BlockFetcher,
  MAX_BLOCK_REQUESTS,
  MAX_BLOCKS_IN_FLIGHT,
  MAX_BLOCKS_IN_FLIGHT_PER_PEER,
  MAX_IN_FLIGHT_SCALE,
  type BlockRequest,
} from '../../src/actors/block-fetcher.js';
import { ManualClock } from '../../src/core/clock.js';

/** `h0`, `h1`, …: distinct block hashes (the fetcher treats them as opaque keys). */
const hashes = (n: number, prefix = 'h'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const pairs = (rs: BlockRequest[]): string[] => rs.map((r) => `${r.hash}@${r.peer}`);

function fetcherWith(peers: string[], init?: ConstructorParameters<typeof BlockFetcher>[0]): { f: BlockFetcher; clock: ManualClock } {
  const f = new BlockFetcher(init);
  for (const p of peers) f.addPeer(p);
  return { f, clock: new ManualClock(1_000_000) };
}

t.test('wanted blocks are requested at once, oldest first, each from one peer', async (t) => {
  const { f, clock } = fetcherWith(['a']);
  t.same(pairs(f.want(['h0', 'h1', 'h2'], 'a', clock.nowMs())), ['h0@a', 'h1@a', 'h2@a']);
  t.equal(f.wantedCount, 3);
  t.equal(f.inFlightCount, 3);
  t.same(f.want(['h1'], 'a', clock.nowMs()), [], 'a block already in flight is not requested again');
  t.same(f.want([], 'a', clock.nowMs()), [], 'an empty announcement schedules nothing');
  t.same(f.schedule(clock.nowMs()), [], 'nothing waits');
});

t.test('a block in flight from one peer is not asked of another that also has it', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  t.same(pairs(f.want(['h0'], 'a', clock.nowMs())), ['h0@a']);
  t.same(f.want(['h0'], 'b', clock.nowMs()), []);
  t.same(f.sourcesOf('h0'), ['a', 'b'], 'b is remembered as a second source');
  t.equal(f.requestedPeer('h0'), 'a');
});

t.test('a waiting block goes to its least busy source, the first learnt on a tie', async (t) => {
  // The total limit holds blocks back, so a block can wait with two sources known.
  const f = new BlockFetcher({ maxInFlight: 3 });
  for (const p of ['a', 'b']) f.addPeer(p);
  f.want(['a0', 'a1'], 'a', 0);
  f.want(['b0'], 'b', 0);
  t.equal(f.inFlightCount, 3);
  t.same(f.want(['x'], 'a', 0).concat(f.want(['x'], 'b', 0)), [], 'the total limit is reached: x waits');
  t.same(f.sourcesOf('x'), ['a', 'b']);
  f.onBlock('b0', 'b');
  t.same(pairs(f.schedule(0)), ['x@b'], 'b has nothing outstanding, a has two: b although a was learnt first');
  f.want(['y'], 'a', 0);
  f.want(['y'], 'b', 0);
  f.onBlock('a0', 'a');
  t.same(pairs(f.schedule(0)), ['y@a'], 'one outstanding each: the first learnt wins');
});

t.test('per-peer limit: a peer never has more than MAX_BLOCKS_IN_FLIGHT_PER_PEER requests outstanding', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  const many = hashes(MAX_BLOCKS_IN_FLIGHT_PER_PEER + 5);
  t.equal(f.want(many, 'a', clock.nowMs()).length, MAX_BLOCKS_IN_FLIGHT_PER_PEER);
  t.equal(f.inFlightOf('a').length, MAX_BLOCKS_IN_FLIGHT_PER_PEER);
  t.same(f.schedule(clock.nowMs()), [], 'the rest wait for a free slot');
  f.onBlock('h0', 'a');
  t.same(pairs(f.schedule(clock.nowMs())), [`h${MAX_BLOCKS_IN_FLIGHT_PER_PEER}@a`], 'a delivered block frees one slot, the oldest waiting block takes it');
  // b also has them: the waiting ones go to b.
  const rest = f.want(many.slice(1), 'b', clock.nowMs());
  t.same(pairs(rest), many.slice(MAX_BLOCKS_IN_FLIGHT_PER_PEER + 1).map((h) => `${h}@b`));
});

t.test('in-flight scale: both limits grow by the factor (small blocks), and falling back stops new requests until below', async (t) => {
  const f = new BlockFetcher({ maxInFlightPerPeer: 4, maxInFlight: 6 });
  for (const p of ['a', 'b']) f.addPeer(p);
  t.same(f.inFlightLimits, { perPeer: 4, total: 6 });
  f.setInFlightScale(3);
  t.same(f.inFlightLimits, { perPeer: 12, total: 18 });
  t.equal(f.want(hashes(20), 'a', 0).length, 12, 'one peer: the scaled per-peer limit');
  t.equal(f.want(hashes(10, 'b'), 'b', 0).length, 6, 'two peers: the scaled total limit');
  f.setInFlightScale(1);
  for (const h of hashes(6)) f.onBlock(h, 'a');
  t.same(f.schedule(0), [], 'still above the unscaled limits: nothing new is requested');
  t.equal(f.inFlightOf('a').length, 6, 'requests already made stay in flight');
  for (const bad of [0, 1.5, MAX_IN_FLIGHT_SCALE + 1]) t.throws(() => f.setInFlightScale(bad), RangeError);
});

t.test('total limit: at most MAX_BLOCKS_IN_FLIGHT requests outstanding over all peers', async (t) => {
  const peers = hashes(Math.ceil(MAX_BLOCKS_IN_FLIGHT / MAX_BLOCKS_IN_FLIGHT_PER_PEER) + 2, 'peer');
  const { f, clock } = fetcherWith(peers);
  const many = hashes(MAX_BLOCKS_IN_FLIGHT * 2);
  let sent = 0;
  for (const p of peers) sent += f.want(many, p, clock.nowMs()).length;
  t.equal(sent, MAX_BLOCKS_IN_FLIGHT);
  t.equal(f.inFlightCount, MAX_BLOCKS_IN_FLIGHT);
  t.same(f.schedule(clock.nowMs()), []);
  f.onBlock('h0', f.requestedPeer('h0')!);
  t.equal(f.schedule(clock.nowMs()).length, 1, 'one delivered block frees one request');
  const small = new BlockFetcher({ maxInFlight: 3 });
  small.addPeer('a');
  t.equal(small.want(hashes(10), 'a', 0).length, 3, 'the total limit is configurable');
});

t.test('a delivered block is no longer wanted; a block from a peer it was not asked of still counts', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  f.want(['h0', 'h1'], 'a', clock.nowMs());
  f.onBlock('h0', 'a');
  t.notOk(f.isWanted('h0'));
  t.same(f.inFlightOf('a'), ['h1']);
  f.onBlock('h1', 'b');
  t.notOk(f.isWanted('h1'), 'b sent it unasked: it is no longer wanted');
  t.same(f.inFlightOf('a'), ['h1'], "a's request stays outstanding until a answers or stalls");
  clock.advance(BLOCK_STALL_TIMEOUT_MS);
  t.same(f.onTick(clock.nowMs()), []);
  t.equal(f.inFlightCount, 0, 'the stale request is withdrawn');
  f.want(['h1'], 'a', clock.nowMs());
  for (let i = 1; i < MAX_BLOCK_REQUESTS; i++) {
    clock.advance(BLOCK_STALL_TIMEOUT_MS);
    f.onTick(clock.nowMs());
    t.ok(f.isWanted('h1'), `still wanted after ${i} counted stalls: the stale one was not counted`);
  }
});

t.test('a stalled request goes to another source; the stalling peer stops being a source', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  f.want(['h0'], 'a', clock.nowMs());
  f.want(['h0', 'h1'], 'b', clock.nowMs());
  t.equal(f.requestedPeer('h0'), 'a');
  t.equal(f.requestedPeer('h1'), 'b');
  clock.advance(BLOCK_STALL_TIMEOUT_MS - 1);
  t.same(f.onTick(clock.nowMs()), [], 'one ms before the timeout nothing moves');
  clock.advance(1);
  // b's h1 request was made at the same time and stalls too; h1 has b as its only source, so every peer becomes one.
  const moved = f.onTick(clock.nowMs());
  t.same(f.sourcesOf('h0'), ['b'], 'a stalled on h0: b remains');
  t.same(pairs(moved), ['h0@b', 'h1@a'], 'each block goes to the other peer');
});

t.test('a peer that stalls stops being a source of every block another peer can send', async (t) => {
  const f = new BlockFetcher({ maxInFlightPerPeer: 3, maxInFlight: 4 });
  const clock = new ManualClock(1_000_000);
  for (const p of ['slow', 'fast']) f.addPeer(p);
  f.want(['h0', 'h1', 'h2'], 'slow', clock.nowMs());
  f.want(['h3'], 'fast', clock.nowMs());
  f.want(['h4'], 'slow', clock.nowMs());
  f.want(['h4'], 'fast', clock.nowMs());
  t.same(f.sourcesOf('h4'), ['slow', 'fast'], 'h4 waits (total limit) with two sources');
  clock.advance(BLOCK_STALL_TIMEOUT_MS);
  f.onBlock('h3', 'fast');
  f.onTick(clock.nowMs());
  t.same(f.sourcesOf('h4'), ['fast'], 'h4 was never requested from slow, yet slow is no longer its source');
  t.same(f.inFlightOf('slow'), [], 'slow is asked for nothing');
  t.same(f.inFlightOf('fast'), ['h0', 'h1', 'h2'], "slow's stalled blocks, which only slow had listed, go to any connected peer");
  t.ok(f.isWanted('h4'), 'h4 waits for a free slot at fast');
});

t.test(`a block that stalls MAX_BLOCK_REQUESTS times is forgotten`, async (t) => {
  const { f, clock } = fetcherWith(['a']);
  f.want(['h0'], 'a', clock.nowMs());
  for (let i = 1; i < MAX_BLOCK_REQUESTS; i++) {
    clock.advance(BLOCK_STALL_TIMEOUT_MS);
    t.same(pairs(f.onTick(clock.nowMs())), ['h0@a'], `stall ${i}: asked again`);
  }
  clock.advance(BLOCK_STALL_TIMEOUT_MS);
  t.same(f.onTick(clock.nowMs()), [], 'the last stall asks nobody');
  t.notOk(f.isWanted('h0'));
  t.equal(f.inFlightCount, 0);
  t.same(pairs(f.want(['h0'], 'a', clock.nowMs())), ['h0@a'], 'a later announcement wants it again, with a fresh stall count');
  for (let i = 1; i < MAX_BLOCK_REQUESTS; i++) {
    clock.advance(BLOCK_STALL_TIMEOUT_MS);
    f.onTick(clock.nowMs());
  }
  t.ok(f.isWanted('h0'));
});

t.test('the stall timeout and request count are configurable', async (t) => {
  const f = new BlockFetcher({ stallTimeoutMs: 10, maxRequests: 2 });
  f.addPeer('a');
  f.want(['h0'], 'a', 0);
  t.same(pairs(f.onTick(10)), ['h0@a']);
  t.same(f.onTick(20), []);
  t.notOk(f.isWanted('h0'));
});

t.test('not-found: the peer stops being a source; the block goes to another or is forgotten', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  f.want(['h0', 'h1'], 'a', clock.nowMs());
  f.want(['h0'], 'b', clock.nowMs());
  t.same(pairs(f.onNotFound('h0', 'a', clock.nowMs())), ['h0@b']);
  t.same(f.sourcesOf('h0'), ['b']);
  t.same(f.onNotFound('h0', 'a', clock.nowMs()), [], 'a second not-found for a block not requested from a changes nothing');
  t.same(f.onNotFound('h1', 'b', clock.nowMs()), [], 'a not-found from a peer not asked changes nothing');
  t.ok(f.isWanted('h1'));
  t.same(f.onNotFound('h1', 'a', clock.nowMs()), []);
  t.notOk(f.isWanted('h1'), 'its only source has not got it: forgotten');
});

t.test('a departed peer: its requests go to other sources, blocks only it had are forgotten', async (t) => {
  const { f, clock } = fetcherWith(['a', 'b']);
  f.want(['h0', 'h1'], 'a', clock.nowMs());
  f.want(['h1'], 'b', clock.nowMs());
  f.want(['h2'], 'b', clock.nowMs());
  const { requests, forgotten } = f.removePeer('a', clock.nowMs());
  t.same(pairs(requests), ['h1@b']);
  t.equal(forgotten, 1, 'h0 had no other source');
  t.notOk(f.isWanted('h0'));
  t.same(f.inFlightOf('a'), []);
  t.same(f.removePeer('a', clock.nowMs()), { requests: [], forgotten: 0 }, 'removing twice changes nothing');
  t.same(f.want(['h3'], 'a', clock.nowMs()), [], 'a departed peer is never asked');
  const idle = fetcherWith(['a', 'b']).f;
  idle.want(['h0'], 'b', 0);
  idle.want(['h0'], 'a', 0);
  t.same(idle.removePeer('a', 0), { requests: [], forgotten: 0 }, 'a peer with nothing in flight frees no request');
  t.same(idle.sourcesOf('h0'), ['b']);
});

t.test('limits are validated', async (t) => {
  t.throws(() => new BlockFetcher({ maxInFlight: 0 }), new RangeError('options.maxInFlight must be a positive integer'));
  t.throws(() => new BlockFetcher({ maxInFlightPerPeer: 1.5 }), new RangeError('options.maxInFlightPerPeer must be a positive integer'));
  t.throws(() => new BlockFetcher({ stallTimeoutMs: -1 }), /stallTimeoutMs/);
  t.throws(() => new BlockFetcher({ maxRequests: Number.NaN }), /maxRequests/);
});
