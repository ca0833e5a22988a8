import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBus } from '../../src/actors/events.js';
import { EventStream, MAX_EVENT_BATCH } from '../../src/api/event-stream.js';

/*
 * The event stream on its own: a real EventBus, a real node:http server whose
 * every request becomes a stream client, and real sockets read to the end.
 * What is checked is what the dashboards see (every event, in order, the same
 * bytes for every client), not how the writes are grouped.
 */

/** A client reading a stream's raw text until the server ends it. */
interface RawClient {
  /** Resolves when `text` holds `count` block-mined events. */
  until(count: number): Promise<string>;
  /** Resolves with everything read once the server has ended the stream. */
  ended: Promise<string>;
}

async function connect(url: string): Promise<RawClient> {
  const res = await fetch(url);
  if (!res.body) throw new Error('no body');
  let text = '';
  const waiters: Array<{ count: number; resolve: (s: string) => void }> = [];
  const ended = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      const have = text.split('event: block-mined\n').length - 1;
      for (const w of [...waiters]) {
        if (have >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(text);
        }
      }
    }
    return text;
  })();
  return { until: (count) => new Promise((resolve) => waiters.push({ count, resolve })), ended };
}

async function serve(stream: EventStream): Promise<{ url: string; server: Server; connected: (n: number) => Promise<void> }> {
  const arrivals: Array<() => void> = [];
  const server = createServer((_req, res) => {
    stream.add(res);
    for (const a of arrivals.splice(0)) a();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const connected = async (n: number): Promise<void> => {
    while (stream.counters.clients < n) await new Promise<void>((resolve) => arrivals.push(resolve));
  };
  return { url: `http://127.0.0.1:${port}/`, server, connected };
}

/** The `data:` objects of the block-mined events in a stream's text, in order. */
function minedHeights(text: string): number[] {
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('event: block-mined\n'))
    .map((b) => (JSON.parse(b.slice(b.indexOf('data: ') + 6)) as { height: number }).height);
}

t.test('every client reads every event in order, each event counted once; close writes what is queued', async (t) => {
  const bus = new EventBus();
  const stream = new EventStream(bus);
  const { url, server, connected } = await serve(stream);
  t.teardown(() => server.close());

  // Events before any client are not kept (an idle stream costs nothing).
  bus.publish({ type: 'block-mined', hash: 'aa'.repeat(32), height: 0 });
  const a = await connect(url);
  const b = await connect(url);
  await connected(2);
  t.equal(stream.counters.events, 0, 'nothing was encoded without a client');

  // A burst larger than one batch, then a few more that only the timer (or close) writes.
  const burst = MAX_EVENT_BATCH + 250;
  for (let h = 1; h <= burst; h++) bus.publish({ type: 'block-mined', hash: h.toString(16).padStart(64, '0'), height: h });
  const [ta, tb] = await Promise.all([a.until(burst), b.until(burst)]);
  const want = Array.from({ length: burst }, (_, i) => i + 1);
  t.same(minedHeights(ta), want, 'the first client read every event in order');
  t.same(minedHeights(tb), want, 'the second client read the same');
  t.equal(stream.counters.events, burst, 'each event is counted once, whatever the number of clients');

  bus.publish({ type: 'block-mined', hash: 'bb'.repeat(32), height: burst + 1 });
  bus.publish({ type: 'status', state: 'stopping' });
  stream.close();
  const [ea, eb] = await Promise.all([a.ended, b.ended]);
  t.same(minedHeights(ea).slice(-2), [burst, burst + 1], 'an event queued when the stream closes is still written');
  t.match(ea, /event: status\ndata: \{"type":"status","state":"stopping"\}\n\n$/, 'the last event is the node stopping');
  t.equal(ea, eb, 'both clients read exactly the same bytes');
  t.equal(stream.counters.clients, 0, 'no client is left');
});
