/**
 * The remote side of a mining farm: hash power on
 * any host, fed over NATS. {@link runRemoteMiner} connects (waiting for the
 * server if it is down), joins the queue group of `farm.work`, mines each job
 * slice with its own piscina {@link MiningPool}, publishes solutions on the
 * job's solution subject, stops a job when a cancel or a newer job arrives,
 * and reports its hash rate every {@link FARM_REPORT_INTERVAL_MS}. The
 * protocol is described in `farm.ts` and `docs/nats.md`.
 */
import { hostname } from 'node:os';
import type { Subscription } from 'nats';
import type { Logger } from 'pino';
import type { Actor, ActorContext, ActorRef, Reply } from '../actors/runtime/actor.js';
import { Supervisor } from '../actors/runtime/supervisor.js';
import { fromHex, toHex } from '../core/encoding.js';
import { HEADER_BYTES } from '../core/header.js';
import { assertNever } from '../core/reject.js';
import { MiningPool } from '../mining/pool.js';
import type { Miner, MiningSolution } from '../mining/types.js';
import { parseFarmWork, targetFromHex } from './codec.js';
import { NatsLink, NatsOptionError, type LinkStatus } from './link.js';
import { NatsActorRef, serveActor, type RemoteCodec } from './remote-ref.js';
import { checkToken, farmSubjects, FARM_QUEUE_GROUP, FARM_REPORT_INTERVAL_MS, NATS_SCHEMA_VERSION, type FarmJob, type FarmReport, type FarmSolution, type FarmWorkMsg } from './subjects.js';
import { request } from '../actors/runtime/actor.js';

/** Most times a slice is forwarded by miners busy with the same job before it is dropped (the peer republishes it). */
export const MAX_FORWARD_HOPS = 8;
/** Cancelled job ids remembered, so that a late slice of a cancelled job is not mined. */
export const CANCELLED_JOBS_REMEMBERED = 1_024;

/** Options of {@link runRemoteMiner}. */
export interface RemoteMinerInit {
  url: string;
  network: string;
  /** Worker threads of the pool. @default os.availableParallelism() */
  workers?: number;
  /** Nonce-range duration of the pool, ms. */
  chunkMs?: number;
  /** Name in reports and logs; `[A-Za-z0-9_-]{1,64}`. @default `<hostname>-<pid>` */
  minerId?: string;
  logger: Logger;
  /** Hash power to use instead of a new {@link MiningPool} (tests, benchmarks); not closed by `stop`. */
  miner?: Miner;
  /** @default FARM_REPORT_INTERVAL_MS */
  reportIntervalMs?: number;
  reconnectTimeWaitMs?: number;
}

/** Counters of a remote miner. */
export interface RemoteMinerStats {
  minerId: string;
  connected: boolean;
  /** Job and slice being mined. */
  jobId: string | null;
  slice: number | null;
  jobs: number;
  solutions: number;
  /** Hashes per second. */
  hashRate: number;
}

/** Messages of the remote miner actor: farm work from NATS plus its own. */
export type RemoteMinerMsg =
  | FarmWorkMsg
  | { type: 'remote/solved'; job: FarmJob; solution: MiningSolution | null }
  | { type: 'remote/failed'; job: FarmJob; error: unknown }
  | { type: 'remote/link'; status: LinkStatus }
  | { type: 'remote/report' }
  | { type: 'remote/stats'; reply: Reply<RemoteMinerStats> };

interface Deps {
  link: NatsLink;
  network: string;
  minerId: string;
  miner: Miner;
  workers: number;
  logger: Logger;
}

const plainCodec = <M>(): RemoteCodec<M> => ({ encode: (m: M) => m, decode: () => undefined });
const workCodec: RemoteCodec<RemoteMinerMsg> = { encode: (m) => m, decode: (v) => parseFarmWork(v) };

/**
 * The remote miner actor: one job slice at a time. Subscribes when the link
 * connects (subscriptions survive reconnects), and on every restart.
 */
export class RemoteMinerActor implements Actor<RemoteMinerMsg> {
  private current: { job: FarmJob; abort: AbortController } | undefined;
  private readonly cancelled = new Set<string>();
  private subs: Subscription[] = [];
  private self!: ActorRef<RemoteMinerMsg>;
  /** A solution that could not be sent (link down); sent again on reconnect unless cancelled. */
  private pending: FarmSolution & { subject: string } | undefined;
  private jobs = 0;
  private solutions = 0;
  private readonly forward: NatsActorRef<FarmWorkMsg>;
  private readonly reports: NatsActorRef<FarmReport>;
  private readonly subjects: ReturnType<typeof farmSubjects>;

  constructor(private readonly deps: Deps) {
    this.subjects = farmSubjects(deps.network);
    this.forward = new NatsActorRef(deps.link, this.subjects.work, plainCodec<FarmWorkMsg>());
    this.reports = new NatsActorRef(deps.link, this.subjects.report, plainCodec<FarmReport>());
  }

  start(ctx: ActorContext<RemoteMinerMsg>): void {
    this.self = ctx.self;
    if (this.deps.link.nc) this.subscribe();
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    this.current?.abort.abort();
    this.current = undefined;
  }

  receive(msg: RemoteMinerMsg): void {
    switch (msg.type) {
      case 'farm/job':
        this.onJob(msg);
        return;
      case 'farm/cancel':
        this.remember(msg.jobId);
        if (this.pending?.jobId === msg.jobId) this.pending = undefined;
        if (this.current?.job.jobId === msg.jobId) {
          this.current.abort.abort();
          this.current = undefined;
          this.report();
        }
        return;
      case 'remote/solved':
        this.onSolved(msg.job, msg.solution);
        return;
      case 'remote/failed':
        if (this.current?.job === msg.job) throw msg.error;
        return;
      case 'remote/link':
        this.onLink(msg.status);
        return;
      case 'remote/report':
        this.report();
        return;
      case 'remote/stats':
        msg.reply.resolve({
          minerId: this.deps.minerId,
          connected: this.deps.link.isUp,
          jobId: this.current?.job.jobId ?? null,
          slice: this.current?.job.slice ?? null,
          jobs: this.jobs,
          solutions: this.solutions,
          hashRate: this.deps.miner.hashRate(),
        });
        return;
      default:
        assertNever(msg);
    }
  }

  private subscribe(): void {
    if (this.subs.length > 0) return;
    const opts = { logger: this.deps.logger };
    this.subs.push(serveActor(this.deps.link, this.subjects.work, workCodec, this.self, { ...opts, queue: FARM_QUEUE_GROUP }));
    this.subs.push(serveActor(this.deps.link, this.subjects.cancel, workCodec, this.self, opts));
  }

  private onLink(s: LinkStatus): void {
    switch (s.type) {
      case 'connected':
        this.subscribe();
        this.report();
        return;
      case 'reconnected':
        if (this.pending) this.sendSolution(this.pending.subject, this.pending);
        this.report();
        return;
      case 'disconnected':
      case 'reconnecting':
      case 'unreachable':
      case 'error':
      case 'closed':
        return;
      default:
        assertNever(s);
    }
  }

  private onJob(job: FarmJob): void {
    if (this.cancelled.has(job.jobId)) return;
    const cur = this.current;
    if (cur && cur.job.jobId === job.jobId) {
      if (cur.job.slice === job.slice) return; // published again: already on it
      // Busy with another slice of the same job: pass this one on to another member of the group.
      if (job.hops < MAX_FORWARD_HOPS) this.forward.offer({ ...job, hops: job.hops + 1 });
      return;
    }
    const target = targetFromHex(job.target);
    if (target === undefined) return;
    cur?.abort.abort();
    const abort = new AbortController();
    this.current = { job, abort };
    this.jobs++;
    this.deps.logger.debug({ jobId: job.jobId, slice: job.slice }, 'farm job started');
    this.deps.miner.mine({ header: fromHex(job.header, HEADER_BYTES), target }, abort.signal).then(
      (solution) => this.self.offer({ type: 'remote/solved', job, solution }),
      (error: unknown) => this.self.offer({ type: 'remote/failed', job, error }),
    );
    this.report();
  }

  private onSolved(job: FarmJob, solution: MiningSolution | null): void {
    if (this.current?.job !== job) return;
    this.current = undefined;
    if (solution) {
      this.solutions++;
      const msg: FarmSolution = { type: 'farm/solution', v: NATS_SCHEMA_VERSION, jobId: job.jobId, slice: job.slice, minerId: this.deps.minerId, header: toHex(solution.header), hashes: solution.hashes };
      this.deps.logger.info({ jobId: job.jobId, slice: job.slice, hashes: solution.hashes }, 'farm job solved');
      this.sendSolution(job.solutionSubject, msg);
    }
    this.report();
  }

  private sendSolution(subject: string, msg: FarmSolution): void {
    const ref = new NatsActorRef(this.deps.link, subject, plainCodec<FarmSolution>());
    this.pending = ref.offer(msg) ? undefined : { ...msg, subject };
  }

  private report(): void {
    this.reports.offer({
      type: 'farm/report',
      v: NATS_SCHEMA_VERSION,
      minerId: this.deps.minerId,
      hashRate: this.deps.miner.hashRate(),
      workers: this.deps.workers,
      jobId: this.current?.job.jobId ?? null,
      slice: this.current?.job.slice ?? null,
    });
  }

  private remember(jobId: string): void {
    this.cancelled.add(jobId);
    if (this.cancelled.size > CANCELLED_JOBS_REMEMBERED) this.cancelled.delete(this.cancelled.values().next().value!);
  }
}

/** A running remote miner. */
export interface RunningRemoteMiner {
  minerId: string;
  ref: ActorRef<RemoteMinerMsg>;
  stats(): Promise<RemoteMinerStats>;
  /** Stops mining, closes the connection and the pool it made. Idempotent. */
  stop(): Promise<void>;
  /** Rejects when the supervisor gave up (restart budget spent). */
  done: Promise<void>;
}

/** `<hostname>-<pid>` reduced to a subject-safe token. */
export function defaultMinerId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(-64);
}

/**
 * Starts a remote miner: returns at once, mining begins when the NATS server
 * is reachable and a peer publishes work.
 * @throws NatsOptionError, SubjectTokenError, MiningPoolOptionError on bad options.
 */
export async function runRemoteMiner(init: RemoteMinerInit): Promise<RunningRemoteMiner> {
  const minerId = checkToken('minerId', init.minerId ?? defaultMinerId());
  farmSubjects(init.network); // validates the network token
  const reportMs = init.reportIntervalMs ?? FARM_REPORT_INTERVAL_MS;
  if (!Number.isInteger(reportMs) || reportMs <= 0) throw new NatsOptionError('options.reportIntervalMs must be a positive integer');
  const logger = init.logger.child({ component: 'remote-miner', minerId });
  const ownPool = init.miner ? undefined : new MiningPool({ ...(init.workers !== undefined ? { workers: init.workers } : {}), ...(init.chunkMs !== undefined ? { chunkMs: init.chunkMs } : {}) });
  const miner: Miner = init.miner ?? ownPool!;
  const link = new NatsLink({
    url: init.url,
    name: `cheesechain-miner-${minerId}`,
    logger,
    ...(init.reconnectTimeWaitMs !== undefined ? { reconnectTimeWaitMs: init.reconnectTimeWaitMs } : {}),
  });
  let escalated!: (err: unknown) => void;
  let finished!: () => void;
  const done = new Promise<void>((resolve, reject) => {
    finished = resolve;
    escalated = reject;
  });
  const sup = new Supervisor({
    name: `miner-${minerId}`,
    onEscalate: (err) => {
      logger.fatal({ err }, 'remote miner gave up');
      void stop().then(() => escalated(err));
    },
    onEvent: (e) => {
      if (e.type === 'child-crashed') logger.error({ err: e.error }, 'remote miner crashed');
    },
  });
  const deps: Deps = { link, network: init.network, minerId, miner, workers: ownPool?.workers ?? init.workers ?? 0, logger };
  const ref = await sup.startChild<RemoteMinerMsg>({ id: 'remote-miner', start: () => new RemoteMinerActor(deps) });
  const offLink = link.onStatus((status) => ref.offer({ type: 'remote/link', status }));
  const timer = setInterval(() => ref.offer({ type: 'remote/report' }), reportMs);
  link.start();
  logger.info({ url: init.url, network: init.network }, 'remote miner started');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      offLink();
      await sup.stop();
      await link.close();
      await ownPool?.close();
      logger.info('remote miner stopped');
      finished();
    })();
    return stopping;
  };
  return { minerId, ref, stats: () => request(ref, 'remote/stats', {}), stop, done };
}
