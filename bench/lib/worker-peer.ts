/**
 * The main thread's handle on a benchmark peer running in a worker thread
 * (`peer-worker.ts`) or a child process (`peer-process.ts`): requests with
 * replies, and the times at which the peer's tip changed, stamped by the peer
 * with {@link clock} (comparable across threads; across processes on one
 * machine to within the clocks' agreement, so the benchmarks time processes
 * only with their own clock).
 */
import { fork } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BlockJson } from '../../src/core/block.js';
import type { NodeInfo, SubmitBlockResult } from '../../src/node/node-api.js';
import type { BenchPeerOptions } from './peers.js';

/** Requests to a worker peer; each is answered by one `reply` with the same id. */
export type PeerCommand =
  | { id: number; cmd: 'connect'; port: number }
  | { id: number; cmd: 'submit-block'; block: BlockJson }
  | { id: number; cmd: 'until-peers'; n: number }
  /** Answered (with the time) once at least `count` transactions have entered the mempool since the peer started. */
  | { id: number; cmd: 'until-accepted'; count: number }
  | { id: number; cmd: 'info' }
  /** Answered with the node ids of the connected peers. */
  | { id: number; cmd: 'peers' }
  /** Answered with the hosting process's {@link PeerMemory}. */
  | { id: number; cmd: 'memory' }
  | { id: number; cmd: 'stop' };

/** Memory of the process hosting a peer (`process.memoryUsage()`), bytes. */
export interface PeerMemory {
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

type Command = PeerCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

/** What a worker peer reports. `at` is {@link clock} in the worker. */
export type PeerReport =
  | { type: 'ready'; listenPort: number }
  | { type: 'reply'; id: number; ok: true; value: unknown; at: number }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'tip'; hash: string; height: number; at: number }
  | { type: 'failed'; error: string };

/** A request's answer and when the worker sent it. */
export interface Answer<T> {
  value: T;
  at: number;
}

/** How the main thread talks to the thread or process hosting a peer: its 'message' and 'error' events, and two calls. */
interface Channel {
  events: EventEmitter;
  post(c: PeerCommand): void;
  terminate(): Promise<unknown>;
}

function threadChannel(opts: BenchPeerOptions): Channel {
  const worker = new Worker(new URL('./peer-worker.js', import.meta.url), { workerData: opts });
  return { events: worker, post: (c) => worker.postMessage(c), terminate: () => worker.terminate() };
}

function processChannel(opts: BenchPeerOptions): Channel {
  const child = fork(fileURLToPath(new URL('./peer-process.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(opts);
  let terminating = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // A peer process that dies on its own fails whatever waits on it.
      if (!terminating && code !== 0) child.emit('error', new Error(`benchmark peer ${opts.name} exited (${code ?? signal})`));
      resolve();
    }),
  );
  return {
    events: child,
    post: (c) => void child.send(c),
    terminate: async () => {
      terminating = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export class WorkerPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (a: Answer<unknown>) => void; reject: (e: Error) => void }>();
  /** When each tip hash was reached, worker clock. */
  private readonly tips = new Map<string, number>();
  private readonly tipWaiters = new Map<string, Array<(at: number) => void>>();
  private failure: Error | undefined;
  /** Height of the last tip reported. */
  height = 0;

  private constructor(
    readonly name: string,
    private readonly worker: Channel,
    readonly listenPort: number,
  ) {
    worker.events.on('message', (r: PeerReport) => this.onReport(r));
    worker.events.on('error', (err: Error) => this.fail(err));
  }

  /** Starts a peer in a new worker thread; resolves once it listens. */
  static start(opts: BenchPeerOptions): Promise<WorkerPeer> {
    return WorkerPeer.ready(opts, threadChannel(opts));
  }

  /** Starts a peer in a child process of its own (for its resident memory); resolves once it listens. */
  static startProcess(opts: BenchPeerOptions): Promise<WorkerPeer> {
    return WorkerPeer.ready(opts, processChannel(opts));
  }

  private static ready(opts: BenchPeerOptions, channel: Channel): Promise<WorkerPeer> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      channel.events.once('error', onError);
      channel.events.once('message', (r: PeerReport) => {
        channel.events.off('error', onError);
        if (r.type === 'ready') resolve(new WorkerPeer(opts.name, channel, r.listenPort));
        else {
          void channel.terminate();
          reject(new Error(`benchmark peer ${opts.name} did not start: ${JSON.stringify(r)}`));
        }
      });
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onReport(r: PeerReport): void {
    switch (r.type) {
      case 'reply': {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        if (r.ok) p?.resolve({ value: r.value, at: r.at });
        else p?.reject(new Error(`benchmark peer ${this.name}: ${r.error}`));
        return;
      }
      case 'tip': {
        this.height = r.height;
        this.tips.set(r.hash, r.at);
        for (const w of this.tipWaiters.get(r.hash) ?? []) w(r.at);
        this.tipWaiters.delete(r.hash);
        return;
      }
      case 'failed':
        this.fail(new Error(`benchmark peer ${this.name} failed: ${r.error}`));
        return;
      case 'ready':
        return;
    }
  }

  private request<T>(c: Command): Promise<Answer<T>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Answer<T>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (a: Answer<unknown>) => void, reject });
      this.worker.post({ ...c, id } as PeerCommand);
    });
  }

  connect(port: number): Promise<Answer<undefined>> {
    return this.request({ cmd: 'connect', port });
  }
  /**
   * Submits a block as the node API does (Bitcoin's `submitblock`);
   * `startedAt` is when the worker began handling it (after the block's
   * transfer between threads), `at` when the peer had connected it.
   */
  submitBlock(block: BlockJson): Promise<Answer<{ result: SubmitBlockResult; startedAt: number }>> {
    return this.request({ cmd: 'submit-block', block });
  }
  untilPeers(n: number): Promise<Answer<undefined>> {
    return this.request({ cmd: 'until-peers', n });
  }
  /** Resolves with the worker's time at which the `count`th transaction entered its mempool. */
  async untilAccepted(count: number): Promise<number> {
    return (await this.request<number>({ cmd: 'until-accepted', count })).value;
  }
  async info(): Promise<NodeInfo> {
    return (await this.request<NodeInfo>({ cmd: 'info' })).value;
  }
  async peerIds(): Promise<string[]> {
    return (await this.request<string[]>({ cmd: 'peers' })).value;
  }
  /** Memory of the thread's process (the whole benchmark for a thread peer; the peer alone for a process peer). */
  async memory(): Promise<PeerMemory> {
    return (await this.request<PeerMemory>({ cmd: 'memory' })).value;
  }

  /** Resolves with the time at which the peer's tip became `hash` (now or later). */
  untilTip(hash: string): Promise<number> {
    const at = this.tips.get(hash);
    if (at !== undefined) return Promise.resolve(at);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve) => {
      const list = this.tipWaiters.get(hash) ?? [];
      list.push(resolve);
      this.tipWaiters.set(hash, list);
    });
  }

  /** Stops the node (removing its data folder) and ends its thread or process. */
  async stop(): Promise<void> {
    if (!this.failure) await this.request({ cmd: 'stop' }).catch(() => undefined);
    await this.worker.terminate();
  }
}
