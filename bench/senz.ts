/**
 * Senz switch benchmark (`npm run bench:senz`, `node dist/bench/senz.js`):
 * messages verified and routed per second by a real {@link SenzSwitch}, for
 * RSA-2048, RSA-1024 and ed25519 senders, against the verify-only baseline
 * (`verifyText` over the same messages) measured in the same run.
 *
 * Per key type: a switch with its users in LMDB in a temporary folder, one
 * receiver on a UDP socket on 127.0.0.1, and senders whose messages
 * (`DATA #msg m<i> @receiver #time t ^sender sig`, all distinct, all inside
 * the #time window) are signed before timing starts. The switch path is
 * everything a datagram costs it: rate limit, parse, #time window, replay
 * cache, user lookup, signature verification, forwarding rule and the UDP
 * send to the receiver. Datagrams are handed to `receive()` in batches below
 * the pending-queue bound (so the kernel's receive path is not timed, and
 * none is dropped on the way in); the sink counts what arrives.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSenz } from '../src/senz/grammar.js';
import { SenzClient } from '../src/senz/client.js';
import { generateSenzKey, sealSenz, verifyText, type SenzKeyPair, type SenzKeyType } from '../src/senz/keys.js';
import { MAX_PENDING_DATAGRAMS, SenzSwitch } from '../src/senz/switch.js';
import { fmt, startSpan, table } from './lib/stats.js';

/** Key types measured: [label, type, RSA bits]. */
const KINDS: ReadonlyArray<readonly [string, SenzKeyType, number]> = [
  ['ed25519', 'ed25519', 0],
  ['RSA-1024', 'rsa', 1024],
  ['RSA-2048', 'rsa', 2048],
];
/** Messages per round and key type. */
const MESSAGES = Number(process.env.BENCH_SENZ_MESSAGES ?? 2000);
/** Rounds per key type; the best of each path is reported (the first round also warms up the JIT and OpenSSL). */
const ROUNDS = 3;
/** Senders per key type. */
const SENDERS = 8;
/** Datagrams handed to the switch before waiting for it to drain. */
const BATCH = Math.floor(MAX_PENDING_DATAGRAMS / 2);

interface Row {
  label: string;
  verifyPerSec: number;
  verifyCpuPerSec: number;
  switchPerSec: number;
  switchCpuPerSec: number;
  forwarded: number;
  arrived: number;
}

async function measure(label: string, type: SenzKeyType, bits: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'cheesechain-bench-senz-'));
  const sw = new SenzSwitch({ dataDir: dir, port: 0, keyType: 'ed25519', ratePerSecond: 1e9, rateBurst: 1e9, replayCacheSize: MESSAGES * ROUNDS + 1000 });
  await sw.start();
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
  sink.setRecvBufferSize(8 * 1024 * 1024);
  let arrived = 0;
  sink.on('message', (d) => d.toString() !== 'PING' && arrived++);
  try {
    // the receiver registers from the sink's port, so forwarded messages land there
    const receiverKey = generateSenzKey('ed25519');
    const registerFrom = async (name: string, key: SenzKeyPair): Promise<number> => {
      const c = await SenzClient.open({ name, key, switchHost: '127.0.0.1', switchPort: sw.port });
      await c.register();
      const port = c.port;
      await c.close();
      return port;
    };
    await registerFrom('receiver', receiverKey);
    // a message to the switch alone moves the receiver's address to the sink, and gets no answer
    sw.receive(Buffer.from(sealSenz(`DATA #msg here @mysensors #time ${(Date.now() / 1000).toFixed(3)}`, 'receiver', receiverKey.privateKey)), { address: '127.0.0.1', port: sink.address().port });
    await sw.idle();

    const senders: Array<{ name: string; key: SenzKeyPair; port: number }> = [];
    for (let i = 0; i < SENDERS; i++) {
      const key = generateSenzKey(type, bits || undefined);
      senders.push({ name: `s${i}`, key, port: await registerFrom(`s${i}`, key) });
    }
    const now = Date.now() / 1000;
    // ROUNDS sets of distinct messages (a message routed once would be a replay the next time)
    const rounds = Array.from({ length: ROUNDS }, (_, round) =>
      Array.from({ length: MESSAGES }, (_, i) => {
        const s = senders[i % SENDERS]!;
        const text = sealSenz(`DATA #msg m${round}x${i} @receiver #time ${(now + i / 1e6).toFixed(6)}`, s.name, s.key.privateKey);
        return { s, text, m: parseSenz(text) };
      }),
    );

    // Best of ROUNDS for each path; each round runs the baseline and the switch back to back, so both see the same machine load.
    let verifyPerSec = 0;
    let verifyCpuPerSec = 0;
    let switchPerSec = 0;
    let switchCpuPerSec = 0;
    let forwarded = 0;
    for (const datagrams of rounds) {
      let ok = 0;
      const base = startSpan();
      for (const d of datagrams) if (verifyText(d.s.key.publicKey, d.m.signedText, d.m.signature)) ok++;
      const baseSpan = base();
      if (ok !== MESSAGES) throw new Error(`baseline verified ${ok} of ${MESSAGES}`);
      verifyPerSec = Math.max(verifyPerSec, MESSAGES / (baseSpan.wallMs / 1000));
      verifyCpuPerSec = Math.max(verifyCpuPerSec, MESSAGES / (baseSpan.cpuMs / 1000));

      const before = sw.stats.forwarded;
      const span = startSpan();
      for (let i = 0; i < datagrams.length; i += BATCH) {
        for (const d of datagrams.slice(i, i + BATCH)) sw.receive(Buffer.from(d.text, 'latin1'), { address: '127.0.0.1', port: d.s.port });
        await sw.idle();
      }
      const swSpan = span();
      forwarded += sw.stats.forwarded - before;
      switchPerSec = Math.max(switchPerSec, MESSAGES / (swSpan.wallMs / 1000));
      switchCpuPerSec = Math.max(switchCpuPerSec, MESSAGES / (swSpan.cpuMs / 1000));
    }
    // let the last datagrams reach the sink (bounded wait: UDP may drop under load, which is reported, not hidden)
    for (let waited = 0; arrived < forwarded && waited < 2000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    return { label, verifyPerSec, verifyCpuPerSec, switchPerSec, switchCpuPerSec, forwarded, arrived };
  } finally {
    sink.close();
    await sw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`Senz switch: best of ${ROUNDS} rounds of ${MESSAGES} signed messages per key type, ${SENDERS} senders, one receiver (load average ${loadavg()[0]!.toFixed(2)})`);
  const rows: Row[] = [];
  for (const [label, type, bits] of KINDS) rows.push(await measure(label, type, bits));
  console.log(
    table(
      ['sender keys', 'verify only /s', 'switch /s', 'switch / verify', 'verify /CPU-s', 'switch /CPU-s', 'ratio (CPU)', 'forwarded', 'arrived'],
      rows.map((r) => [
        r.label,
        fmt(r.verifyPerSec),
        fmt(r.switchPerSec),
        `${(r.switchPerSec / r.verifyPerSec).toFixed(2)}×`,
        fmt(r.verifyCpuPerSec),
        fmt(r.switchCpuPerSec),
        `${(r.switchCpuPerSec / r.verifyCpuPerSec).toFixed(2)}×`,
        fmt(r.forwarded),
        fmt(r.arrived),
      ]),
    ),
  );
  const ed = rows[0]!;
  for (const r of rows.slice(1)) console.log(`  ed25519 senders: ${(ed.switchCpuPerSec / r.switchCpuPerSec).toFixed(2)}× the messages per CPU-second of ${r.label} senders`);
}

await main();
