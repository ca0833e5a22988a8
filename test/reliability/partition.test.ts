/**
 * Partition and heal with real peer processes: five `cheesechain node`s, two
 * in network namespace A and three in B, the namespaces joined by one veth
 * pair. One peer on each side mines. The link goes down: each side mines
 * its own branch and confirms a transfer of its own. The link comes back:
 * all five converge on one chain, the heaviest, and the transfer confirmed
 * only on the losing branch is not lost — it went back to the mempools and
 * is pending or mined again on the winning chain.
 */
import t from 'tap';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MIN_RELAY_FEE } from '../../src/core/policy.js';
import { txid, txToJson } from '../../src/core/transaction.js';
import { keyHex, newKey, regtest, transfer, type KeyPair } from '../helpers/chain-builder.js';
import { createNetns, netnsAvailable, type Netns } from './netns.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Longest wait for one step (five processes on a loaded 2-core machine), ms. */
const STEP_MS = 60_000;
/** Blocks each side mines on its own branch while partitioned. */
const BRANCH_BLOCKS = 3;
/** Addresses of the A–B link: inside the two namespaces only, so they cannot collide with any other run's. */
const LINK = { a: '192.168.77.1', b: '192.168.77.2' };

interface Peer {
  name: string;
  side: 'a' | 'b';
  ns: Netns;
  /** Address the test reaches its API at (the namespace's end of its host link). */
  apiHost: string;
  peerPort: number;
  apiPort: number;
  child?: ChildProcess;
  /** Main chain as its log tells it: height → hash ('block connected' / 'block disconnected'). */
  chain: Map<number, string>;
  disconnected: number;
  /** Transfers the peer's mempool evicted, as its log tells it: txid → reasons. */
  evicted: Map<string, string[]>;
  /** The last log lines other than block connects and sync progress, printed when a step times out. */
  recent: string[];
  tip(): number;
}

/** Log lines kept per peer for the report of a timed-out step. */
const RECENT_LINES = 40;

function ipIn(ns: Netns, ...args: string[]): void {
  execFileSync('ip', ['-n', ns.name, ...args], { stdio: 'pipe' });
}

if (!netnsAvailable()) {
  t.plan(0, 'network namespaces need root (ip netns add failed)');
} else {
  t.test('5 peers split 2/3 converge on the heaviest branch after the heal; the losing branch\'s transfer is not lost', async (t) => {
    const nsA = createNetns(t);
    const nsB = createNetns(t);
    // The A–B link: a veth pair with one end in each namespace (removed with them).
    const tag = `${process.pid}`;
    execFileSync('ip', ['link', 'add', `pa${tag}`, 'type', 'veth', 'peer', 'name', `pb${tag}`], { stdio: 'pipe' });
    t.teardown(() => {
      try {
        execFileSync('ip', ['link', 'del', `pa${tag}`], { stdio: 'pipe' });
      } catch {
        /* moved into namespace A and gone with it */
      }
    });
    execFileSync('ip', ['link', 'set', `pa${tag}`, 'netns', nsA.name], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'set', `pb${tag}`, 'netns', nsB.name], { stdio: 'pipe' });
    ipIn(nsA, 'addr', 'add', `${LINK.a}/24`, 'dev', `pa${tag}`);
    ipIn(nsB, 'addr', 'add', `${LINK.b}/24`, 'dev', `pb${tag}`);
    ipIn(nsA, 'link', 'set', `pa${tag}`, 'up');
    ipIn(nsB, 'link', 'set', `pb${tag}`, 'up');

    const dir = mkdtempSync(join(tmpdir(), 'cheesechain-partition-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const minerA = newKey();
    const minerB = newKey();
    const peers: Peer[] = [
      ['a1', 'a', 28401],
      ['a2', 'a', 28402],
      ['b1', 'b', 28401],
      ['b2', 'b', 28402],
      ['b3', 'b', 28403],
    ].map(([name, side, port]) => {
      const ns = side === 'a' ? nsA : nsB;
      const chain = new Map<number, string>();
      return {
        name: name as string,
        side: side as 'a' | 'b',
        ns,
        apiHost: ns.inside,
        peerPort: port as number,
        apiPort: (port as number) + 100,
        chain,
        disconnected: 0,
        evicted: new Map<string, string[]>(),
        recent: [],
        tip: () => Math.max(0, ...chain.keys()),
      };
    });
    const waiters = new Set<() => void>();
    const changed = () => {
      for (const w of [...waiters]) w();
    };
    /** Resolves once `cond()` holds, re-checked after every log record of every peer. */
    const until = (cond: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!cond()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          for (const p of peers) t.comment(`${p.name} (tip ${p.tip()}), last log lines:\n${p.recent.join('\n')}`);
          reject(new Error(`timed out after ${STEP_MS} ms waiting for ${what}; tips ${peers.map((p) => `${p.name}:${p.tip()}`).join(' ')}`));
        }, STEP_MS);
        waiters.add(check);
        check();
      });

    for (const p of peers) {
      const others = peers
        .filter((o) => o !== p)
        .map((o) => `${o.side === p.side ? '127.0.0.1' : o.side === 'a' ? LINK.a : LINK.b}:${o.peerPort}`);
      const miner = p.name === 'a1' ? minerA : p.name === 'b1' ? minerB : undefined;
      const config = join(dir, `${p.name}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          network: 'regtest',
          dataDir: join(dir, p.name),
          nodeId: p.name,
          listen: { host: '0.0.0.0', port: p.peerPort },
          api: { enabled: true, host: '0.0.0.0', port: p.apiPort },
          peers: others,
          connections: { localRanges: ['192.168.77.0/24', '10.0.0.0/8'] },
          mining: miner ? { enabled: true, workers: 1, chunkMs: 20, address: keyHex(miner) } : { enabled: false },
          log: { level: 'info' },
        }),
      );
      const child = p.ns.spawn([process.execPath, MAIN, 'node', '--config', config]);
      p.child = child;
      createInterface({ input: child.stderr! }).on('line', (line) => {
        let rec: { msg?: string; height?: number; hash?: string; txid?: string; reason?: string };
        try {
          rec = JSON.parse(line);
        } catch {
          return;
        }
        if (rec.msg === 'block connected' && typeof rec.height === 'number' && rec.hash) p.chain.set(rec.height, rec.hash);
        else {
          // Progress lines come every second and would push out the ones that say what went wrong.
          if (rec.msg !== 'sync progress') p.recent.push(line.slice(0, 400));
          if (p.recent.length > RECENT_LINES) p.recent.shift();
          if (rec.msg === 'block disconnected' && typeof rec.height === 'number') {
            p.chain.delete(rec.height);
            p.disconnected++;
          } else if (rec.msg === 'transaction evicted' && rec.txid) p.evicted.set(rec.txid, [...(p.evicted.get(rec.txid) ?? []), rec.reason ?? '?']);
        }
        changed();
      });
    }
    t.teardown(async () => {
      for (const p of peers) if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(peers.map((p) => (p.child && p.child.exitCode === null && p.child.signalCode === null ? once(p.child, 'exit') : undefined)));
    });
    // The API answers only Host names it serves (a DNS-rebinding guard): the test speaks to the
    // namespace's address but names loopback, which the API always serves.
    const api = <T>(p: Peer, path: string, body?: unknown): Promise<T> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = httpRequest(
          {
            host: p.apiHost,
            port: p.apiPort,
            path,
            method: payload === undefined ? 'GET' : 'POST',
            headers: { host: `127.0.0.1:${p.apiPort}`, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => {
              try {
                resolve(JSON.parse(text) as T);
              } catch (err) {
                reject(err as Error);
              }
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    const sameAt = (group: Peer[], h: number): boolean => {
      const hash = group[0]!.chain.get(h);
      return hash !== undefined && group.every((p) => p.chain.get(h) === hash);
    };
    const [a1, a2, b1, b2] = peers as [Peer, Peer, Peer, Peer, Peer];
    const sideA = peers.filter((p) => p.side === 'a');
    const sideB = peers.filter((p) => p.side === 'b');

    // 1. All five on one chain, each miner paid by a block all five hold. A transfer of side A (B) must stay valid on
    // side B's (A's) branch, or it could never come back after the heal: its funds must predate the fork. The balance
    // one peer reports is not enough, since it includes that peer's newest coinbase (spendable in the next block under
    // coinbase maturity 1), which the other side may not have received when the link goes down.
    await until(() => a1.tip() >= 6 && sameAt(peers, 6), 'all five peers agreeing on block 6');
    t.pass('the five peers share one chain');
    const paidBy = new Map<string, { recipient: string; amount: bigint }>();
    const agreedHeight = (): number => {
      let h = 0;
      while (sameAt(peers, h + 1)) h++;
      return h;
    };
    for (;;) {
      const h = agreedHeight();
      const paid = new Map<string, bigint>();
      for (let height = 1; height <= h; height++) {
        const hash = a1.chain.get(height)!;
        let cb = paidBy.get(hash);
        if (!cb) {
          const view = await api<{ block: { transactions: Array<{ type: string; recipient: string; amount: string }> } }>(a1, `/blocks/${hash}`);
          const first = view.block.transactions[0]!;
          paidBy.set(hash, (cb = { recipient: first.recipient, amount: BigInt(first.amount) }));
        }
        paid.set(cb.recipient, (paid.get(cb.recipient) ?? 0n) + cb.amount);
      }
      if ([minerA, minerB].every((k) => (paid.get(keyHex(k)) ?? 0n) > 10n * DEFAULT_MIN_RELAY_FEE)) break;
      await until(() => agreedHeight() > h, 'all five agreeing on another block while waiting for both miners to be paid');
    }
    // An account the peer has never credited is answered 404 (no balance): count it as 0.
    const balance = async (p: Peer, key: KeyPair) => {
      const view = await api<{ balance?: string; nonce?: number }>(p, `/accounts/${keyHex(key)}`);
      return { balance: view.balance ?? '0', nonce: view.nonce ?? 0 };
    };

    // 2. Partition: the A–B link goes down. Each side mines on and confirms a transfer of its own.
    ipIn(nsA, 'link', 'set', `pa${tag}`, 'down');
    const splitHeight = Math.max(...peers.map((p) => p.tip()));
    const recipient = newKey();
    const send = async (p: Peer, key: KeyPair) => {
      const { nonce } = await balance(p, key);
      const tx = transfer(regtest, key, recipient, 5n * DEFAULT_MIN_RELAY_FEE, nonce, DEFAULT_MIN_RELAY_FEE);
      const reply = await api<{ accepted?: boolean }>(p, '/tx', txToJson(tx));
      t.match(reply, { accepted: true }, `${p.name} accepts the transfer of its side`);
      return txid(tx);
    };
    const txA = await send(a2, minerA);
    const txB = await send(b2, minerB);
    const confirmedOn = async (p: Peer, id: string) => (await api<{ status?: string; blockHash?: string; height?: number }>(p, `/tx/${id}`));
    const branchTips: Record<'a' | 'b', number> = { a: 0, b: 0 };
    for (const [side, group, id] of [['a', sideA, txA], ['b', sideB, txB]] as const) {
      for (;;) {
        await until(() => group[0]!.tip() >= splitHeight + BRANCH_BLOCKS && sameAt(group, group[0]!.tip()), `side ${side} agreeing on its branch`);
        const view = await confirmedOn(group[0]!, id);
        if (view.status === 'confirmed') break;
        const h = group[0]!.tip();
        await until(() => group[0]!.tip() > h, `side ${side} mining its transfer`);
      }
      branchTips[side] = group[0]!.tip();
    }
    // The last block both sides hold: a block mined just before the link went down can reach the other side
    // before either peer has logged it, or never reach it, so the fork may lie above or below the tips seen at the split.
    let fork = 0;
    while (a1.chain.get(fork + 1) !== undefined && a1.chain.get(fork + 1) === b1.chain.get(fork + 1)) fork++;
    t.ok(a1.chain.has(fork + 1) && b1.chain.has(fork + 1) && a1.chain.get(fork + 1) !== b1.chain.get(fork + 1), `the two sides mined different branches (from height ${fork + 1})`);
    const txAView = await confirmedOn(a1, txA);
    const txBView = await confirmedOn(b1, txB);
    t.equal(txAView.status, 'confirmed', 'side A confirmed its transfer on its branch');
    t.equal(txBView.status, 'confirmed', 'side B confirmed its transfer on its branch');
    t.equal((await confirmedOn(b1, txA)).status, undefined, 'side B never heard of side A\'s transfer');

    // 3. Heal: all five converge on one chain above both branch tips.
    const disconnectsBefore = new Map(peers.map((p) => [p.name, p.disconnected]));
    const branchHashes = { a: new Map(a1.chain), b: new Map(b1.chain) };
    const atHeal = { a: a1.tip(), b: b1.tip() };
    ipIn(nsA, 'link', 'set', `pa${tag}`, 'up');
    const top = Math.max(atHeal.a, atHeal.b) + 1;
    await until(() => sameAt(peers, top) && [...Array(top).keys()].every((h) => sameAt(peers, h + 1)), `all five agreeing on one chain up to height ${top}`);
    const final = new Map(a1.chain);
    const won = (side: 'a' | 'b') => final.get(fork + 1) === branchHashes[side].get(fork + 1);
    const winner = won('a') ? 'a' : won('b') ? 'b' : undefined;
    t.ok(winner, `the converged chain continues one side's branch (${winner ?? 'neither'})`);
    if (!winner) return;
    const loser = winner === 'a' ? 'b' : 'a';
    // Regtest keeps the genesis bits, so work is proportional to height: the chain all five hold outweighs both branches.
    t.ok(top > atHeal.a && top > atHeal.b, `all five hold one chain heavier than both branches at the heal (A ${atHeal.a}, B ${atHeal.b}; agreed up to ${top})`);
    const losers = loser === 'a' ? sideA : sideB;
    t.ok(losers.every((p) => p.disconnected > disconnectsBefore.get(p.name)!), `every peer of side ${loser.toUpperCase()} disconnected its branch (a reorg)`);

    // 4. The losing branch's transfer went back to the mempools: pending there, or mined again on the winning chain.
    const lostTx = loser === 'a' ? txA : txB;
    const wonTx = winner === 'a' ? txA : txB;
    for (const p of losers) {
      // Mined again above the fork, in a block of the peer's main chain (which may have grown past the agreed height).
      const look = async () => {
        const view = await confirmedOn(p, lostTx);
        const onWinningChain =
          view.status === 'confirmed' && view.height !== undefined && view.height > fork && view.blockHash !== undefined && (await api<{ mainChain?: boolean }>(p, `/blocks/${view.blockHash}`)).mainChain === true;
        return { view, onWinningChain, kept: view.status === 'mempool' || onWinningChain };
      };
      let { view, onWinningChain, kept } = await look();
      // Both miners keep mining: the block that took the transfer again can lose a race at the tip between the two
      // queries (the transfer is then back in the mempool). A lost transfer stays lost, so look again after new blocks.
      for (let again = 0; !kept && again < 3; again++) {
        const h = p.tip();
        await until(() => p.tip() > h, `${p.name} connecting another block`);
        ({ view, onWinningChain, kept } = await look());
      }
      const outcome = view.status === 'mempool' ? 'back in the mempool' : onWinningChain ? `mined again on the winning chain at ${view.height}` : `${view.status ?? 'unknown'}`;
      t.ok(kept, `${p.name}: the losing branch's transfer is ${outcome}`, { evicted: p.evicted.get(lostTx) ?? [] });
    }
    for (const p of peers) t.equal((await confirmedOn(p, wonTx)).status, 'confirmed', `${p.name}: the winning branch's transfer is confirmed`);
  });
}
