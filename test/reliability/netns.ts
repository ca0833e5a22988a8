/**
 * Network namespaces for tests that need distinct source addresses (bans by
 * address, per-address limits, partitions): a namespace joined to the host
 * by a veth pair, created by the test and removed at its teardown. Needs
 * root (CI runs as root); `netnsAvailable()` says whether this machine
 * allows it.
 *
 * Subnets never collide, neither between namespaces of one run nor between
 * concurrent runs: each /24 is drawn at random from 10.128.0.0/9, skipped
 * when any interface of the host already has an address in it, and checked
 * again once our own address is on the link (two runs that drew the same
 * /24 at the same moment both see the other and draw again).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { Test } from 'tap';
import { trackChild } from '../helpers/processes.js';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { stdio: 'pipe', encoding: 'utf8' });
}

/** Whether `ip netns add` works here (root, iproute2). */
export function netnsAvailable(): boolean {
  const probe = `ccprobe${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

/** A namespace and the addresses on both ends of its link. */
export interface Netns {
  name: string;
  /** The namespace's address (its end of the veth). */
  inside: string;
  /** Host-side addresses, all on the host's end of the veth: `outside[0]` … `outside[n-1]`. */
  outside: string[];
  /** Runs `argv` inside the namespace; the process is killed at teardown. */
  spawn(argv: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): ChildProcess;
}

let counter = 0;

/** Most /24s drawn before giving up (the space holds 32,768 of them). */
const MAX_SUBNET_DRAWS = 64;

/** `10.a.b` prefixes of every IPv4 address on the host (all interfaces). */
function usedPrefixes(): Set<string> {
  const used = new Set<string>();
  for (const m of ip('-o', '-4', 'addr', 'show').matchAll(/inet (\d+)\.(\d+)\.(\d+)\.\d+\//g)) used.add(`${m[1]}.${m[2]}.${m[3]}`);
  return used;
}

/** How many host addresses lie in `prefix`.0/24 (ours included). */
function holdersOf(prefix: string): number {
  return ip('-o', '-4', 'addr', 'show')
    .split('\n')
    .filter((line) => line.includes(` inet ${prefix}.`)).length;
}

/**
 * Adds `addresses(prefix)` to host link `dev` for a free /24 `10.a.b`:
 * drawn at random, not in use before, and still ours alone after adding.
 * @returns the prefix `10.a.b`.
 * @throws Error when no free /24 was found in {@link MAX_SUBNET_DRAWS} draws.
 */
function claimSubnet(dev: string, hostAddresses: (prefix: string) => string[]): string {
  for (let i = 0; i < MAX_SUBNET_DRAWS; i++) {
    const prefix = `10.${randomInt(128, 256)}.${randomInt(0, 256)}`;
    if (usedPrefixes().has(prefix)) continue;
    const mine = hostAddresses(prefix);
    for (const a of mine) ip('addr', 'add', `${a}/24`, 'dev', dev);
    if (holdersOf(prefix) === mine.length) return prefix;
    // Another run took the same /24 at the same moment: step back and draw again.
    for (const a of mine) ip('addr', 'del', `${a}/24`, 'dev', dev);
  }
  throw new Error(`no free 10.x.y.0/24 found in ${MAX_SUBNET_DRAWS} draws`);
}

/** A fresh tag for namespace and link names: pid and a counter, separated so that no two (pid, n) pairs give the same text. */
function nextTag(): string {
  return `${process.pid}x${counter++}`;
}

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces (and their host links) left by runs that died before
 * their teardown (killed by a timeout): the pid in their name is gone.
 */
function removeStale(): void {
  let names: string;
  try {
    names = ip('netns', 'list');
  } catch {
    return;
  }
  for (const m of names.matchAll(/^cc(\d+)x(\d+)\b/gm)) {
    if (!alive(Number(m[1]))) removeNetns(`cc${m[1]}x${m[2]}`, `vh${m[1]}x${m[2]}`);
  }
}

/** Namespaces of this process not yet removed: the exit hook removes them when a teardown never ran. */
const live = new Map<string, string>();
let exitHooked = false;

/** Deletes the namespace `name` and host link `dev` (if still there); every step tolerates what is already gone. */
function removeNetns(name: string, dev: string | undefined): void {
  if (dev !== undefined) {
    try {
      ip('link', 'del', dev);
    } catch {
      /* gone with the namespace */
    }
  }
  try {
    ip('netns', 'del', name);
  } catch {
    /* already removed */
  }
}

/**
 * Creates a namespace with a veth pair to the host on a free /24 `10.a.b`
 * (see the file comment): the namespace end gets `10.a.b.1`, the host end
 * `10.a.b.2` … `.<1 + hostAddresses>`. Everything is removed at the test's
 * teardown, processes started with `spawn` first.
 */
export function createNetns(t: Test, hostAddresses = 1): Netns {
  if (counter === 0) removeStale();
  const tag = nextTag();
  const name = `cc${tag}`;
  const vh = `vh${tag}`;
  const vn = `vn${tag}`;
  const children: ChildProcess[] = [];
  if (!exitHooked) {
    exitHooked = true;
    // A test killed by its timeout never reaches its teardown; the exit hook still removes what it made.
    process.once('exit', () => {
      for (const [n, dev] of live) removeNetns(n, dev);
    });
  }
  ip('netns', 'add', name);
  live.set(name, vh);
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    removeNetns(name, vh);
    live.delete(name);
  });
  ip('link', 'add', vh, 'type', 'veth', 'peer', 'name', vn);
  ip('link', 'set', vn, 'netns', name);
  const prefix = claimSubnet(vh, (p) => Array.from({ length: hostAddresses }, (_, i) => `${p}.${i + 2}`));
  const inside = `${prefix}.1`;
  const outside = Array.from({ length: hostAddresses }, (_, i) => `${prefix}.${i + 2}`);
  ip('link', 'set', vh, 'up');
  ip('-n', name, 'addr', 'add', `${inside}/24`, 'dev', vn);
  ip('-n', name, 'link', 'set', vn, 'up');
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return {
    name,
    inside,
    outside,
    spawn(argv, options) {
      // `ip netns exec` execs the command: this pid is the command's own.
      const child = trackChild(spawn('ip', ['netns', 'exec', name, ...argv], { cwd: options?.cwd ?? process.cwd(), env: options?.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
      children.push(child);
      return child;
    },
  };
}
