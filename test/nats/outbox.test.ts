/**
 * The NATS bridge's outbox alone: order, the bound, confirm-by-flush across
 * generations, requeue on a dropped link and the replay pause. The sender is
 * a recorder standing for the connection (the bridge over a real
 * nats-server is tested in bridge.test.ts and resilience.test.ts).
 */
import t from 'tap';
import { Outbox, type SendOutcome } from '../../src/nats/outbox.js';

/** A connection as the outbox sees it: up or down, recording what it was handed. */
class Connection {
  up = true;
  readonly sent: string[] = [];
  /** Items over `max_payload`: discarded when sent. */
  readonly tooLarge = new Set<string>();
  /** Refuse after this many more items (a connection that breaks mid-flush). */
  breakAfter = Infinity;
  readonly send = (item: string): SendOutcome => {
    if (!this.up || this.breakAfter <= 0) return 'refused';
    this.breakAfter--;
    if (this.tooLarge.has(item)) return 'discarded';
    this.sent.push(item);
    return 'sent';
  };
}

const items = (n: number, prefix = 'e'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

t.test('while the link is down items wait in order; when it is up they are sent oldest first', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  conn.up = false;
  for (const e of items(3)) t.equal(box.add(e, conn.send), 0);
  box.flush(conn.send);
  t.same(conn.sent, []);
  t.equal(box.waiting, 3);
  conn.up = true;
  box.flush(conn.send);
  t.same(conn.sent, ['e0', 'e1', 'e2']);
  t.equal(box.waiting, 0);
  t.equal(box.unconfirmed, 3);
  t.equal(box.size, 3, 'sent is not yet delivered: it still counts');
  t.equal(box.sentCount, 3);
});

t.test('a confirmation covers exactly what was sent before its round trip started', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  for (const e of items(2)) box.add(e, conn.send);
  box.flush(conn.send);
  const { generation, sentCount: upTo } = box;
  box.add('e2', conn.send);
  box.flush(conn.send);
  t.equal(box.confirm(generation, upTo), 2);
  t.equal(box.unconfirmed, 1, 'e2 was sent after the PING: not covered');
  t.equal(box.confirm(generation, upTo), 0, 'a repeated confirmation confirms nothing more');
  t.equal(box.confirm(generation, box.sentCount), 1);
  t.equal(box.size, 0);
});

t.test('a dropped link puts the unconfirmed items back in front, in order; they are sent again (at least once)', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  for (const e of items(3)) box.add(e, conn.send);
  box.flush(conn.send);
  const before = box.generation;
  box.confirm(before, 1);
  conn.up = false;
  t.equal(box.linkDown(), 0);
  t.equal(box.generation, before + 1);
  box.add('e3', conn.send);
  t.equal(box.waiting, 3, 'e1, e2 back in line, then e3');
  t.equal(box.confirm(before, box.sentCount), 0, 'a late confirmation of the old connection is ignored');
  conn.up = true;
  t.equal(box.linkUp(false), undefined, 'a first connect does not wait for a replay');
  box.flush(conn.send);
  t.same(conn.sent, ['e0', 'e1', 'e2', 'e1', 'e2', 'e3'], 'e0 was confirmed: not resent');
  t.equal(box.linkDown(), 0);
  t.equal(box.linkDown(), 0, 'a second disconnect with nothing unconfirmed changes nothing but the generation');
  t.equal(box.generation, before + 3);
});

t.test('the bound: waiting and unconfirmed together stay within max; the oldest waiting item is dropped', async (t) => {
  const box = new Outbox<string>(3);
  const conn = new Connection();
  conn.up = false;
  let dropped = 0;
  for (const e of items(5)) dropped += box.add(e, conn.send);
  t.equal(dropped, 2);
  t.equal(box.size, 3);
  conn.up = true;
  box.flush(conn.send);
  t.same(conn.sent, ['e2', 'e3', 'e4'], 'the newest were kept');
});

t.test('a burst beyond the bound while connected is sent, not dropped', async (t) => {
  const box = new Outbox<string>(3);
  const conn = new Connection();
  let dropped = 0;
  // Items are only added, never flushed by the caller (the bridge drains on the next turn): the bound flushes.
  for (const e of items(10)) dropped += box.add(e, conn.send);
  t.equal(dropped, 0);
  t.same(conn.sent, items(9), 'each addition to a full outbox sent the waiting ones first');
  t.equal(box.waiting, 1);
  t.ok(box.unconfirmed <= 3, 'unconfirmed items are bounded too');
});

t.test('a server that never confirms cannot grow the outbox: the oldest unconfirmed items are forgotten', async (t) => {
  const box = new Outbox<string>(2);
  const conn = new Connection();
  for (const e of items(5)) {
    box.add(e, conn.send);
    box.flush(conn.send);
  }
  t.equal(box.unconfirmed, 2);
  conn.up = false;
  box.linkDown();
  conn.up = true;
  box.flush(conn.send);
  t.same(conn.sent.slice(5), ['e3', 'e4'], 'only the newest unconfirmed ones come back');
});

t.test('requeued items beyond the bound drop the oldest', async (t) => {
  const box = new Outbox<string>(3);
  const conn = new Connection();
  for (const e of items(3)) box.add(e, conn.send);
  box.flush(conn.send);
  conn.up = false;
  // Full of unconfirmed items while down: nothing waits, so nothing can be dropped yet.
  t.equal(box.add('late', conn.send), 0);
  t.equal(box.size, 4, 'one over the bound until the link drops');
  t.equal(box.linkDown(), 1, 'on requeue the oldest is dropped');
  conn.up = true;
  box.flush(conn.send);
  t.same(conn.sent.slice(3), ['e1', 'e2', 'late']);
});

t.test('an item the connection can never take is discarded; a refusal stops the flush and keeps the order', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  conn.tooLarge.add('e1');
  conn.breakAfter = 2;
  for (const e of items(4)) box.add(e, conn.send);
  box.flush(conn.send);
  t.same(conn.sent, ['e0'], 'e0 sent, e1 discarded, then the connection refused');
  t.equal(box.waiting, 2);
  t.equal(box.unconfirmed, 1, 'a discarded item is not waiting for confirmation');
  conn.breakAfter = Infinity;
  box.flush(conn.send);
  t.same(conn.sent, ['e0', 'e2', 'e3']);
});

t.test('after a reconnect with items waiting, sending pauses until the replay of that connection', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  conn.up = false;
  box.add('e0', conn.send);
  conn.up = true;
  const gen = box.linkUp(true);
  t.equal(gen, box.generation);
  t.ok(box.awaitingReplay);
  box.add('e1', conn.send);
  box.flush(conn.send);
  t.same(conn.sent, [], 'nothing is sent before the replay');
  box.replay(gen! - 1, conn.send);
  t.same(conn.sent, [], 'a replay of an older connection is ignored');
  box.replay(gen!, conn.send);
  t.notOk(box.awaitingReplay);
  t.same(conn.sent, ['e0', 'e1']);
  t.equal(box.linkUp(true), undefined, 'nothing waits: no replay pause');
});

t.test('a link that drops again before its replay: the stale replay is ignored, the next reconnect replays', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  conn.up = false;
  box.add('e0', conn.send);
  conn.up = true;
  const first = box.linkUp(true)!;
  box.linkDown();
  box.replay(first, conn.send);
  t.ok(box.awaitingReplay, 'still paused');
  t.same(conn.sent, []);
  const second = box.linkUp(true)!;
  t.not(second, first);
  box.replay(second, conn.send);
  t.same(conn.sent, ['e0']);
});

t.test('release ends a replay pause and sends everything (the bridge is stopping)', async (t) => {
  const box = new Outbox<string>(10);
  const conn = new Connection();
  conn.up = false;
  box.add('e0', conn.send);
  conn.up = true;
  box.linkUp(true);
  box.release(conn.send);
  t.same(conn.sent, ['e0']);
  t.notOk(box.awaitingReplay);
});

t.test('max 0 keeps nothing; a bad max is refused', async (t) => {
  const box = new Outbox<string>(0);
  const conn = new Connection();
  t.equal(box.add('e0', conn.send), 1);
  box.flush(conn.send);
  t.same(conn.sent, []);
  t.equal(box.size, 0);
  t.throws(() => new Outbox(-1), new RangeError('max must be a non-negative integer'));
  t.throws(() => new Outbox(1.5), RangeError);
});
