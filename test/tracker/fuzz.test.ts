import { connect } from 'node:net';
import t from 'tap';
import { joinTracker } from '../../src/tracker/client.js';
import { message } from '../../src/transport/messages.js';
import { FakeMember, helloOf, RawDialer, trackerFor } from './helpers.js';

/*
 * The tracker never crashes on bad input: hundreds of random and mutated byte
 * strings on both ports, each on its own connection, then a check that the
 * tracker still serves. Seeded (FUZZ_SEED) so a failure can be replayed.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CASES_PER_PORT = 300;
const CONCURRENCY = 25;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const TEXT_SEEDS = ['JOIN_CHAIN:localhost:9009', 'GET_PEERS:PID0123', 'JOIN_CHAIN:[::1]:1', 'JOIN_CHAIN:0.0.0.0:65535', 'GET_PEERS:', 'Connection Successful', 'CPSS[]'];
const PEER_SEEDS = ['peer:1', 'a:65535', '{"HELLO":{}}\x04', '{"GETADDR":{}}\x04', '[]\x04', '\x04', 'eJw=\x02\x04', '{"ADDR":{"addresses":[1]}}\x04'];
const SPICE = ['\n', '\r\n', ':', '\x04', '\x02', '\x00', '\xff', '[', ']', '{', '}', '"', ' ', 'PID', 'JOIN_CHAIN:', 'GET_PEERS:', '99999', '\u00e9'];

function randomBytes(): Buffer {
  const n = int(3) === 0 ? int(2000) : int(64);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

function mutate(seed: string): Buffer {
  let s = seed;
  const edits = 1 + int(4);
  for (let i = 0; i < edits; i++) {
    const at = int(s.length + 1);
    switch (int(3)) {
      case 0:
        s = s.slice(0, at) + pick(SPICE) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(4));
        break;
      default:
        s = s + pick(SPICE) + pick([...TEXT_SEEDS, ...PEER_SEEDS]);
    }
  }
  return Buffer.from(s, 'latin1');
}

function input(seeds: readonly string[]): Buffer {
  return int(2) === 0 ? randomBytes() : mutate(pick(seeds));
}

/** Sends `data` (sometimes in two writes), half-closes, and resolves when the tracker has closed too. */
function throwAt(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      const cut = int(data.length + 1);
      s.write(data.subarray(0, cut));
      if (cut < data.length) s.write(data.subarray(cut));
      s.end();
    });
    s.resume();
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

async function storm(port: number, seeds: readonly string[]): Promise<void> {
  const inputs = Array.from({ length: CASES_PER_PORT }, () => input(seeds));
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < inputs.length) await throwAt(port, inputs[next++]!);
    }),
  );
}

t.test(`random and mutated bytes do not crash the tracker (FUZZ_SEED=${SEED})`, async (t) => {
  const tracker = await trackerFor(t, { helloTimeoutMs: 500 });
  await storm(tracker.port, TEXT_SEEDS);
  await storm(tracker.peerPort, PEER_SEEDS);

  // Everything on one long-lived text connection too.
  const one = Buffer.concat(Array.from({ length: 50 }, () => Buffer.concat([mutate(pick(TEXT_SEEDS)), Buffer.from('\n')])));
  await throwAt(tracker.port, one);

  // Still serving: members joined by garbage are checked (and dropped) by liveness; a real member joins and is listed.
  await tracker.checkNow();
  const member = await FakeMember.start(t, 'survivor');
  const address = { host: '127.0.0.1', port: tracker.port };
  await joinTracker({ ...address, listenHost: '127.0.0.1', listenPort: member.port });
  const round = await tracker.checkNow();
  t.equal(round.alive, 1, 'the real member answers');
  t.same(
    tracker.peers().map((m) => m.port),
    [member.port],
    'only the real member is left',
  );
  const d = await RawDialer.dial(t, tracker.peerPort, 'after-fuzz:1');
  d.send(message('HELLO', helloOf('devnet', 'after-fuzz', 1)));
  t.equal((await d.next())?.method, 'HEY', 'the peer port still answers');
});
