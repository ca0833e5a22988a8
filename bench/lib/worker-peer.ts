/**
 * The main thread's handle on a benchmark peer running in a worker thread
 * (`peer-worker.ts`): requests with replies, and the times at which the
 * peer's tip changed, stamped in the worker with {@link clock}.
 */
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
  | { id: number; cmd: 'stop' };

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
    private readonly worker: Worker,
    readonly listenPort: number,
  ) {
    worker.on('message', (r: PeerReport) => this.onReport(r));
    worker.on('error', (err) => this.fail(err));
  }

  /** Starts a peer in a new worker thread; resolves once it listens. */
  static start(opts: BenchPeerOptions): Promise<WorkerPeer> {
    const worker = new Worker(new URL('./peer-worker.js', import.meta.url), { workerData: opts });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      worker.once('error', onError);
      worker.once('message', (r: PeerReport) => {
        worker.off('error', onError);
        if (r.type === 'ready') resolve(new WorkerPeer(opts.name, worker, r.listenPort));
        else reject(new Error(`benchmark peer ${opts.name} did not start: ${JSON.stringify(r)}`));
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
      this.worker.postMessage({ ...c, id });
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

  /** Stops the node (removing its data folder) and ends the worker. */
  async stop(): Promise<void> {
    if (!this.failure) await this.request({ cmd: 'stop' }).catch(() => undefined);
    await this.worker.terminate();
  }
}
