/**
 * Memory under attack: a real `cheesechain node` process (regtest, loopback)
 * is flooded by this process, one attack after another, and its resident
 * memory (VmRSS of /proc/<pid>/status, sampled every 20 ms) is printed before,
 * at the peak and after each flood (once back within {@link NEAR_MB} of its
 * start, or {@link SETTLE_MS} after the flood, whichever comes first: V8
 * gives memory back lazily), with the growth in MB against the +50 MB budget
 * and whether it came back near its start, and how much of what stayed is held by malloc's main
 * arena (the `[heap]` mapping: freed Buffer memory malloc keeps, not live objects). "What the peer did" is observed, not assumed: the
 * messages the attacking connections received back (REJECT codes, ADDR
 * replies), how the peer ended them, and the peer's own log records
 * (disconnect reasons, bans) during the flood. Also the cost of refusing a 4 MB hostile frame against
 * parsing a valid 4 MB frame of the same size, measured in this run.
 *
 *   npm run bench:attack
 *   npm run bench:attack -- BROADCASTBLOCK   (only the attacks whose name contains the word)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { networkId } from '../src/core/genesis.js';
import { hashToHex } from '../src/core/hash.js';
import { NETWORKS } from '../src/core/params.js';
import { signTransfer, txToJson } from '../src/core/transaction.js';
import { generateKeyPair } from '../src/core/ed25519.js';
import { decodeMessage } from '../src/transport/messages.js';
import { fmt, table } from './lib/stats.js';

const NET = hashToHex(networkId(NETWORKS.regtest));
const BUDGET_MB = 50;
/** RSS after a flood counts as back near its start within this many MB of the RSS before it. */
const NEAR_MB = 15;
/** Longest wait after a flood for RSS to come back near its start, ms (V8 and malloc give pages back a while after the garbage is collected). */
const SETTLE_MS = 30_000;
/** Longest wait for the PONG to a PING sent after a flood, ms. */
const PONG_TIMEOUT_MS = 30_000;
/** Time the connection stays open after the PONG, for the replies the flood caused, ms. */
const LINGER_MS = 500;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Resident MB of the process's `[heap]` mapping (glibc malloc's main arena, grown by brk): where the
 * backing stores of freed Buffers stay when malloc cannot give them back to the kernel (a later
 * allocation sits above them), unlike the V8 heap's own pages.
 */
function mallocHeapMb(pid: number): number {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const at = smaps.search(/ \[heap\]\n/);
  if (at < 0) return 0;
  const m = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at));
  return m ? Number(m[1]) / 1024 : 0;
}

const hello = (nodeId: string, method = 'HELLO', role?: 'tracker') =>
  JSON.stringify({ [method]: { version: 1, network: NET, height: 0, tip: NET, chainWork: '1', time: Math.floor(Date.now() / 1000), nodeId, port: 0, ...(role ? { role } : {}) } }) + '\x04';

/** What the attacked peer sent back to the attacking connections, and how it ended them. */
class Observed {
  readonly received = new Map<string, number>();
  readonly closes = new Map<string, number>();
  /** Time the peer took to answer a PING sent after the flood's last frame, ms (undefined: not asked, or never answered). */
  pongMs: number | undefined;
  private onPong: (() => void) | undefined;

  /** Counts the frames of `s` after the handshake: `METHOD` or `REJECT <code>`; and its end (closed by the peer, or still open). */
  watch(s: Socket): void {
    let buf = '';
    let handshook = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\x04'); i >= 0; i = buf.indexOf('\x04')) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 1);
        // A socket watched from its start sees the peer's id line glued to its HELLO.
        const method = /^\{"([A-Z]+)"/.exec(frame)?.[1] ?? (!handshook ? /^[^{]*\{"(HELLO|HEY)"/.exec(frame)?.[1] : undefined) ?? 'other';
        if (!handshook && (method === 'HELLO' || method === 'HEY')) continue;
        handshook = true;
        if (method === 'PONG') {
          this.onPong?.();
          continue;
        }
        // An unknown-message REJECT names what the frame was in its reason's first word (unknown-method, malformed-json…).
        const code = /"code":"([^"]+)"/.exec(frame)?.[1] ?? '?';
        const kind = code === 'unknown-message' ? /"reason":"([a-z-]+):/.exec(frame)?.[1] : undefined;
        const key = method === 'REJECT' ? `REJECT ${code}${kind ? ` (${kind})` : ''}` : method;
        this.received.set(key, (this.received.get(key) ?? 0) + 1);
      }
    });
    s.on('close', () => {
      const how = (s as Socket & { endedByUs?: boolean }).endedByUs ? 'open until we left' : 'closed by the peer';
      this.closes.set(how, (this.closes.get(how) ?? 0) + 1);
    });
  }

  /**
   * Sends a PING after the flood and waits for the PONG (the peer's connection answers it once it has read
   * every frame before it), then lingers {@link LINGER_MS} for the replies the flood caused; at most
   * {@link PONG_TIMEOUT_MS}, or until the peer closes the connection.
   */
  async ping(s: Socket): Promise<void> {
    if (s.destroyed) return;
    const t0 = performance.now();
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PONG_TIMEOUT_MS);
      this.onPong = () => {
        clearTimeout(timer);
        resolve(true);
      };
      s.once('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    s.write('{"PING":{"nonce":7}}\x04');
    if (await answered) this.pongMs = performance.now() - t0;
    this.onPong = undefined;
    if (!s.destroyed) await new Promise((r) => setTimeout(r, LINGER_MS));
  }

  /** Ends `s` from our side (so its close is not counted as the peer's). */
  static leave(s: Socket): void {
    (s as Socket & { endedByUs?: boolean }).endedByUs = true;
    s.destroy();
  }

  summary(): string {
    const fmtMap = (m: Map<string, number>) => [...m].map(([k, n]) => `${n} ${k}`).join(', ');
    const pong = this.pongMs === undefined ? '' : `PING after the flood answered in ${fmt(this.pongMs, 0)} ms`;
    return [this.received.size > 0 ? `sent ${fmtMap(this.received)}` : 'sent nothing back', pong, fmtMap(this.closes)].filter((x) => x.length > 0).join('; ');
  }
}

/** A connected socket whose every frame from the peer `seen` counts (errors ignored: the peer may refuse it). */
async function watchedSocket(port: number, seen: Observed): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  seen.watch(s);
  await once(s, 'connect').catch(() => undefined);
  return s;
}

/** A raw peer that completes the handshake unauthenticated; resolves with its socket, watched by `seen`. */
async function rawPeer(port: number, nodeId: string, seen?: Observed): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await once(s, 'connect');
  let got = '';
  let wake: (() => void) | undefined;
  let ended = false;
  const onData = (d: Buffer): void => {
    got += d.toString();
    wake?.();
  };
  const onClose = (): void => {
    ended = true;
    wake?.();
  };
  s.on('data', onData);
  s.once('close', onClose);
  const until = async (re: RegExp) => {
    while (!re.test(got)) {
      if (ended) throw new Error(`${nodeId}: the peer closed the connection during the handshake`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  s.write(`${nodeId}:0`);
  await until(/./);
  s.write(hello(nodeId));
  await until(/"HELLO"/);
  s.write(hello(nodeId, 'HEY'));
  s.off('data', onData);
  s.off('close', onClose);
  s.on('data', () => undefined);
  seen?.watch(s);
  return s;
}

/** Writes `frames` in order, waiting for each drain; stops when the peer closes the connection. */
async function writeAll(s: Socket, frames: string[]): Promise<void> {
  let wake: (() => void) | undefined;
  const onEvent = (): void => wake?.();
  s.on('drain', onEvent);
  s.on('close', onEvent);
  try {
    for (const f of frames) {
      if (s.destroyed) return;
      if (!s.write(f)) await new Promise<void>((r) => (wake = r));
    }
  } finally {
    s.off('drain', onEvent);
    s.off('close', onEvent);
  }
}

interface Row {
  attack: string;
  did: string;
  before: number;
  peak: number;
  after: number;
  /** Growth of malloc's `[heap]` mapping from before to after, MB. */
  mallocHeldMb: number;
}

/** Peer log records of a flood, summed: disconnect reasons, bans, refusals. */
function logSummary(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) {
    let rec: { msg?: string; reason?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.msg === 'peer disconnected' || /refused|banned|evict/i.test(rec.msg ?? '')) {
      const key = rec.reason ? `${rec.msg} (${rec.reason})` : rec.msg!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-attack-'));
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify({ network: 'regtest', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, api: { enabled: false }, mining: { enabled: false }, log: { level: 'info' } }));
  const node = spawn(process.execPath, ['dist/src/cli/main.js', 'node', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let logLines: string[] = [];
  node.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
    logLines.push(...b.toString().split('\n').filter((l) => l.length > 0));
  });
  while (!/"msg":"node started"/.test(log)) await once(node.stderr!, 'data');
  const port = Number(/"listenPort":(\d+)/.exec(log)![1]);
  const pid = node.pid!;
  const rows: Row[] = [];
  const startRss = rssMb(pid);
  const startHeap = mallocHeapMb(pid);
  let endRss = Number.NaN;
  let endHeap = Number.NaN;

  const only = process.argv[2];
  const measure = async (attack: string, run: (seen: Observed) => Promise<void>): Promise<void> => {
    if (only !== undefined && !attack.includes(only)) return;
    const before = rssMb(pid);
    const heapBefore = mallocHeapMb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
    const seen = new Observed();
    logLines = [];
    await run(seen);
    // The peer's heap shrinks lazily once the flood is over: wait until RSS is back near its start, at most SETTLE_MS.
    const settleEnd = Date.now() + SETTLE_MS;
    await new Promise((r) => setTimeout(r, 1_000));
    while (rssMb(pid) - before > NEAR_MB && Date.now() < settleEnd) await new Promise((r) => setTimeout(r, 250));
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(pid));
    const logged = logSummary(logLines);
    rows.push({ attack, did: [seen.summary(), logged].filter((x) => x.length > 0).join('; log: '), before, peak, after: rssMb(pid), mallocHeldMb: mallocHeapMb(pid) - heapBefore });
  };

  try {
    await measure('junk flood: 100 unknown-method frames of 1 MB', async (seen) => {
      const s = await rawPeer(port, 'junk', seen);
      const junk = `{"JUNK":"${'x'.repeat(1_000_000)}"}\x04`;
      await writeAll(s, Array.from({ length: 100 }, () => junk));
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('BROADCASTBLOCK flood: 150 × 500 random hashes', async (seen) => {
      const s = await rawPeer(port, 'announcer', seen);
      const frames = Array.from({ length: 150 }, () => JSON.stringify({ BROADCASTBLOCK: { hashes: Array.from({ length: 500 }, () => randomBytes(32).toString('hex')) } }) + '\x04');
      await writeAll(s, frames);
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('LISTOFBLOCKS flood: 150 unsolicited lists of 2,000', async (seen) => {
      const s = await rawPeer(port, 'lister', seen);
      const frames = Array.from({ length: 150 }, () => JSON.stringify({ LISTOFBLOCKS: { hashes: Array.from({ length: 2_000 }, () => randomBytes(32).toString('hex')) } }) + '\x04');
      await writeAll(s, frames);
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('ADDR flood: 200 × 1,000 addresses', async (seen) => {
      const s = await rawPeer(port, 'addr', seen);
      const frames = Array.from({ length: 200 }, (_, k) => JSON.stringify({ ADDR: { addresses: Array.from({ length: 1_000 }, (_, i) => ({ host: `10.${k}.${i >> 8}.${i & 255}`, port: 8330 })) } }) + '\x04');
      await writeAll(s, frames);
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('GETADDR burst: 2,000', async (seen) => {
      const s = await rawPeer(port, 'getaddr', seen);
      await writeAll(s, Array.from({ length: 2_000 }, () => '{"GETADDR":{}}\x04'));
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('invalid-transaction flood: 50 rotating ids × 100 badly signed transfers', async (seen) => {
      const netId = networkId(NETWORKS.regtest);
      const from = generateKeyPair();
      const to = generateKeyPair();
      for (let k = 0; k < 50; k++) {
        const s = await rawPeer(port, `rotator${k}`, seen).catch(() => undefined);
        if (!s) continue;
        const txs = Array.from({ length: 100 }, (_, i) => {
          const tx = txToJson(signTransfer(netId, { recipient: to.publicKey, amount: 1_000n, fee: 1_000n, nonce: i }, from.secretKey));
          return { ...tx, signature: randomBytes(64).toString('hex') };
        });
        await writeAll(s, txs.map((tx) => JSON.stringify({ PUSHTRANSACTION: { transactions: [tx] } }) + '\x04'));
        await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 200))]);
        Observed.leave(s);
      }
    });
    await measure('deep nesting: 20 frames of 4 MB', async (seen) => {
      const s = await rawPeer(port, 'nester', seen);
      const depth = 1_990_000;
      const f = '{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}\x04';
      await writeAll(s, Array.from({ length: 20 }, () => f));
      await seen.ping(s);
      Observed.leave(s);
    });
    await measure('tracker-role flood: 40 HELLOs with role "tracker", each followed by a 4 MB partial frame', async (seen) => {
      const partial = '{"ADDR":"' + 'z'.repeat(4_000_000);
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const s = await watchedSocket(port, seen);
          s.write(`tracker${i}:0`);
          await once(s, 'data').catch(() => undefined);
          s.write(hello(`tracker${i}`, 'HELLO', 'tracker'));
          s.write(partial);
          await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 5_000))]);
          if (!s.destroyed) Observed.leave(s);
        }),
      );
    });
    await measure('connection flood: 500 sockets holding 16 KB partial frames', async (seen) => {
      const sockets = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const s = await watchedSocket(port, seen);
          s.write(`flood${i}:0`);
          s.write('{"HELLO":"' + 'y'.repeat(16_000));
          return s;
        }),
      );
      await new Promise((r) => setTimeout(r, 500));
      for (const s of sockets) Observed.leave(s);
    });
    // After every flood: where the peer's memory settles once the attacks are over.
    const settleEnd = Date.now() + SETTLE_MS;
    while (rssMb(pid) - startRss > NEAR_MB && Date.now() < settleEnd) await new Promise((r) => setTimeout(r, 250));
    endRss = rssMb(pid);
    endHeap = mallocHeapMb(pid);
  } finally {
    node.kill('SIGTERM');
    await once(node, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`\nMemory of the attacked peer (RSS, MB; budget +${BUDGET_MB} MB over the start of each flood; "after" once within ${NEAR_MB} MB of the start or ${SETTLE_MS / 1000} s after the flood)\n`);
  console.log(
    table(
      ['attack', 'what the peer did (observed)', 'before', 'peak', 'after', 'peak − before', `within +${BUDGET_MB} MB`, `back within ${NEAR_MB} MB`, 'of it in malloc [heap]'],
      rows.map((r) => [
        r.attack,
        r.did,
        fmt(r.before, 1),
        fmt(r.peak, 1),
        fmt(r.after, 1),
        fmt(r.peak - r.before, 1),
        r.peak - r.before <= BUDGET_MB ? 'yes' : 'NO',
        r.after - r.before <= NEAR_MB ? 'yes' : 'NO',
        fmt(r.mallocHeldMb, 1),
      ]),
      2,
    ),
  );

  console.log(`\nRSS of the peer: ${fmt(startRss, 1)} MB before the first flood, ${fmt(endRss, 1)} MB after the last (${fmt(endRss - startRss, 1)} MB, of which malloc's [heap] ${fmt(endHeap - startHeap, 1)} MB); load average ${loadavg().map((l) => fmt(l, 2)).join(' ')}`);

  // The cost of refusing a hostile frame against parsing an honest one of the same size, in this run.
  const depth = 1_990_000;
  const hostile = '{"ADDR":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
  const honest = JSON.stringify({ REJECT: { message: '', code: 'x', reason: 'r', pad: 'z'.repeat(hostile.length - 60) } });
  const time = (f: () => void, n = 10): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - t0) / n;
  };
  const hostileMs = time(() => decodeMessage(hostile));
  const parseMs = time(() => JSON.parse(honest));
  console.log(`\n4 MB frame: refusing the nested one ${fmt(hostileMs, 1)} ms; JSON.parse of a flat one of the same size ${fmt(parseMs, 1)} ms (×${fmt(hostileMs / parseMs, 2)})`);
}

await main();
