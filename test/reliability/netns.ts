/**
 * Network namespaces for tests that need distinct source addresses (bans by
 * address, per-address limits): a namespace joined to the host by a veth
 * pair, created by the test and removed at its teardown. Needs root (CI runs
 * as root); `netnsAvailable()` says whether this machine allows it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Whether `ip netns add` works here (root, iproute2). */
export function netnsAvailable(): boolean {
  const probe = `ccprobe${process.pid % 100_000}`;
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
  spawn(argv: string[], options?: { cwd?: string }): ChildProcess;
}

let counter = 0;

/**
 * Creates namespace `cc<pid><n>` with a veth pair to the host: the namespace
 * end gets `10.<a>.<b>.1/24`, the host end `10.<a>.<b>.2` … `.<1 + hostAddresses>`.
 * Everything is removed at the test's teardown.
 */
export function createNetns(t: Test, hostAddresses = 1): Netns {
  const n = counter++;
  const tag = `${process.pid % 100_000}${n}`;
  const name = `cc${tag}`;
  const vh = `vh${tag}`;
  const vn = `vn${tag}`;
  const a = 100 + (process.pid % 100);
  const b = (Math.floor(process.pid / 100) * 7 + n) % 250;
  const inside = `10.${a}.${b}.1`;
  const outside = Array.from({ length: hostAddresses }, (_, i) => `10.${a}.${b}.${i + 2}`);
  const children: ChildProcess[] = [];
  ip('netns', 'add', name);
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    try {
      ip('link', 'del', vh);
    } catch {
      /* gone with the namespace */
    }
    try {
      ip('netns', 'del', name);
    } catch {
      /* already removed */
    }
  });
  ip('link', 'add', vh, 'type', 'veth', 'peer', 'name', vn);
  ip('link', 'set', vn, 'netns', name);
  for (const o of outside) ip('addr', 'add', `${o}/24`, 'dev', vh);
  ip('link', 'set', vh, 'up');
  ip('-n', name, 'addr', 'add', `${inside}/24`, 'dev', vn);
  ip('-n', name, 'link', 'set', vn, 'up');
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return {
    name,
    inside,
    outside,
    spawn(argv, options) {
      const child = spawn('ip', ['netns', 'exec', name, ...argv], { cwd: options?.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return child;
    },
  };
}
