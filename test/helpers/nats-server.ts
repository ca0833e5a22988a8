/**
 * Test harness for a real `nats-server` (Debian package `nats-server`): starts
 * it as a child process on 127.0.0.1 and a free port, waits until it accepts
 * connections (its `INFO` line arrives), and can stop and restart it on the
 * same port to simulate an outage. Every process it starts is killed by
 * {@link NatsServer.stop}; register that in `t.teardown`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { trackChild } from './processes.js';

/** Longest wait for the server to accept connections after a start, ms. */
export const NATS_START_TIMEOUT_MS = 10_000;
/** Wait after SIGTERM before SIGKILL, ms. */
export const NATS_STOP_GRACE_MS = 3_000;
/** Pause between connection probes while the server starts, ms. */
const PROBE_INTERVAL_MS = 25;

export { trackChild };

/** Path of the server binary; override with `NATS_SERVER_BIN`. */
export const NATS_SERVER_BIN = process.env['NATS_SERVER_BIN'] ?? 'nats-server';

/** A free TCP port on 127.0.0.1 (bound once by the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when something on `port` answers with a NATS `INFO` line. */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('INFO '));
    });
  });
}

/** A running (or stopped, restartable) `nats-server` child process. */
export class NatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the child process is running. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** The server's output so far (for failure messages). */
  get output(): string {
    return this.log;
  }

  /**
   * Starts a server on a free port (or `port`) and resolves when it accepts
   * connections. `extraArgs` are added to the command line (e.g. `--cluster`
   * and `--routes` of a cluster member), on every restart too.
   * @throws Error when the binary is missing or the server does not come up within {@link NATS_START_TIMEOUT_MS}.
   */
  static async start(port?: number, extraArgs: readonly string[] = []): Promise<NatsServer> {
    const server = new NatsServer(port ?? (await freePort()), extraArgs);
    await server.restart();
    return server;
  }

  /**
   * (Re)starts the server on the same port; a no-op when it runs.
   * @throws Error as {@link NatsServer.start}.
   */
  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(this.port), ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    trackChild(child);
    const append = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    let failed: Error | undefined;
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        failed = err;
        resolve();
      });
      child.on('exit', (code, signal) => {
        failed ??= new Error(`nats-server exited (${signal ?? code})`);
        resolve();
      });
    });
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + NATS_START_TIMEOUT_MS;
    for (;;) {
      if (failed) throw new Error(`nats-server did not start: ${failed.message}\n${this.log}`);
      if (await probe(this.port)) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`nats-server did not accept connections on ${this.port} within ${NATS_START_TIMEOUT_MS} ms\n${this.log}`);
      }
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  }

  /** Kills the server with SIGKILL (a crash: no goodbye to clients or routes) and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** Kills the server at once (SIGKILL) without waiting: for a process `exit` handler. */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }

  /** Stops the server (SIGTERM, then SIGKILL after {@link NATS_STOP_GRACE_MS}) and waits for it to exit. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), NATS_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }
}
