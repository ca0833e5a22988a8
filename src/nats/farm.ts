/**
 * The peer side of a mining farm fed over NATS:
 * {@link NatsFarmMiner} implements the {@link Miner} the miner actor drives, but
 * instead of local worker threads it sends the block template to remote
 * miners (`cheesechain miner`, `remote-miner.ts`) and waits for a solved
 * header.
 *
 * Protocol (subjects in `subjects.ts`, documented in `docs/nats.md`):
 * 1. `mine(work)` makes a job `<farmId>-<session>-<n>` and publishes one slice
 *    per active miner (at least one) on `farm.work`, a queue group: each slice
 *    reaches one miner. Slice k carries the header with time + k s, so miners
 *    search disjoint spaces. A miner already busy with the job forwards a
 *    second slice (bounded hops).
 * 2. Miners report every second on `farm.report` (job, slice, hash rate). A
 *    slice no report claims within {@link DEFAULT_SLICE_CLAIM_TIMEOUT_MS} is
 *    published again: that covers lost messages, NATS outages, new and dead
 *    miners alike.
 * 3. A solution arrives on `farm.solution.<farmId>`; the peer checks that it is
 *    a header of the template (same version, prevHash, merkleRoot, bits, time
 *    not earlier) whose hash meets the target, resolves `mine`, and publishes
 *    `farm.cancel`. The chain validates the block again like any other.
 * 4. When the miner actor aborts (new tip, new template), the job is cancelled
 *    on `farm.cancel` and `mine` resolves null.
 */
import { randomBytes } from 'node:crypto';
import type { Subscription } from 'nats';
import type { Logger } from 'pino';
import { fromHex, toHex } from '../core/encoding.js';
import { sha256d } from '../core/hash.js';
import { HEADER_BYTES } from '../core/header.js';
import { hashMeetsTarget } from '../core/pow.js';
import type { Miner, MiningSolution, MiningWork } from '../mining/types.js';
import { decodeJson, MAX_FARM_MESSAGE_BYTES, MAX_JOB_SLICES, parseFarmReport, parseFarmSolution, targetToHex } from './codec.js';
import { NatsLink, NatsOptionError, type LinkStatus } from './link.js';
import { NatsActorRef } from './remote-ref.js';
import { checkToken, farmSolutionSubject, farmSubjects, FARM_REPORT_INTERVAL_MS, NATS_SCHEMA_VERSION, type FarmReport, type FarmWorkMsg } from './subjects.js';

/** How often unclaimed slices are published again and stale reports pruned, ms. @default 500 */
export const DEFAULT_JOB_REPUBLISH_MS = 500;
/** A published slice no miner reported working on within this time is published again, ms. @default 2500 */
export const DEFAULT_SLICE_CLAIM_TIMEOUT_MS = 2_500;
/** A miner whose last report is older than this is considered gone, ms. @default 3 × the report interval */
export const DEFAULT_REPORT_STALE_MS = 3 * FARM_REPORT_INTERVAL_MS;
/** Offset of the 32-bit little-endian time field of a header, bytes (Bitcoin layout). */
const TIME_OFFSET = 68;
/** Offset of the bits field, bytes. */
const BITS_OFFSET = 72;

/** Options and components of a {@link NatsFarmMiner}. */
export interface NatsFarmMinerInit {
  url: string;
  name?: string;
  network: string;
  /** Token naming this peer's solution subject; the node id. */
  farmId: string;
  logger: Logger;
  /** @default DEFAULT_JOB_REPUBLISH_MS */
  republishMs?: number;
  /** @default DEFAULT_SLICE_CLAIM_TIMEOUT_MS */
  claimTimeoutMs?: number;
  /** @default DEFAULT_REPORT_STALE_MS */
  reportStaleMs?: number;
  reconnectTimeWaitMs?: number;
  /** Injected clock, ms. */
  now?: () => number;
}

/** Why a solution is refused. */
export type SolutionVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks a solved header against its template: 80 bytes; version, prevHash,
 * merkleRoot and bits unchanged (only time and nonce may differ); time not
 * earlier than the template's; SHA-256d meets `target` (Bitcoin's rule, as
 * `checkProofOfWork`). Pure.
 */
export function checkFarmSolution(template: Uint8Array, target: bigint, solved: Uint8Array): SolutionVerdict {
  if (solved.length !== HEADER_BYTES) return { ok: false, reason: `header must be ${HEADER_BYTES} bytes` };
  for (let i = 0; i < TIME_OFFSET; i++) if (solved[i] !== template[i]) return { ok: false, reason: 'header is not of this template (version, prevHash or merkleRoot differ)' };
  for (let i = BITS_OFFSET; i < BITS_OFFSET + 4; i++) if (solved[i] !== template[i]) return { ok: false, reason: 'header bits differ from the template' };
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view(solved).getUint32(TIME_OFFSET, true) < view(template).getUint32(TIME_OFFSET, true)) return { ok: false, reason: 'header time is earlier than the template' };
  if (!hashMeetsTarget(sha256d(solved), target)) return { ok: false, reason: 'header hash does not meet the target' };
  return { ok: true };
}

/** The header of slice `slice`: the template with time + `slice` seconds and nonce 0. */
export function sliceHeader(template: Uint8Array, slice: number): Uint8Array {
  const h = Uint8Array.from(template);
  const view = new DataView(h.buffer);
  view.setUint32(TIME_OFFSET, (view.getUint32(TIME_OFFSET, true) + slice) >>> 0, true);
  view.setUint32(76, 0, true);
  return h;
}

interface Job {
  jobId: string;
  work: MiningWork;
  resolve: (s: MiningSolution | null) => void;
  /** Slice → when it was last published, ms. */
  publishedAt: Map<number, number>;
  slices: number;
  signal: AbortSignal;
  onAbort: () => void;
}

interface MinerSeen {
  report: FarmReport;
  at: number;
  /** Whether the last job it reported was one of ours. */
  ours: boolean;
}

/** Encodes farm work messages as themselves (they are plain JSON). */
const workCodec = { encode: (m: FarmWorkMsg) => m, decode: () => undefined };

/**
 * Hash power from a remote farm, as a {@link Miner}. Starts connecting at
 * construction and works while NATS is down: a job waits until the link is
 * up. Only one `mine` at a time (a second call cancels the first).
 */
export class NatsFarmMiner implements Miner {
  private readonly link: NatsLink;
  private readonly subjects: ReturnType<typeof farmSubjects>;
  private readonly solutionSubject: string;
  /** The queue group of miners (each message reaches one). */
  private readonly work: NatsActorRef<FarmWorkMsg>;
  /** Every miner. */
  private readonly cancel: NatsActorRef<FarmWorkMsg>;
  private readonly session = randomBytes(4).toString('hex');
  private counter = 0;
  private job: Job | undefined;
  private readonly miners = new Map<string, MinerSeen>();
  private subs: Subscription[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly claimTimeoutMs: number;
  private readonly reportStaleMs: number;
  private solved = 0;

  /** @throws NatsOptionError, SubjectTokenError on bad options. */
  constructor(private readonly init: NatsFarmMinerInit) {
    checkToken('farmId', init.farmId);
    this.log = init.logger.child({ component: 'nats-farm' });
    this.now = init.now ?? Date.now;
    const republishMs = positive(init.republishMs, DEFAULT_JOB_REPUBLISH_MS, 'republishMs');
    this.claimTimeoutMs = positive(init.claimTimeoutMs, DEFAULT_SLICE_CLAIM_TIMEOUT_MS, 'claimTimeoutMs');
    this.reportStaleMs = positive(init.reportStaleMs, DEFAULT_REPORT_STALE_MS, 'reportStaleMs');
    this.subjects = farmSubjects(init.network);
    this.solutionSubject = farmSolutionSubject(init.network, init.farmId);
    this.link = new NatsLink({
      url: init.url,
      name: init.name ?? `cheesechain-farm-${init.farmId}`,
      logger: this.log,
      ...(init.reconnectTimeWaitMs !== undefined ? { reconnectTimeWaitMs: init.reconnectTimeWaitMs } : {}),
    });
    this.work = new NatsActorRef(this.link, this.subjects.work, workCodec);
    this.cancel = new NatsActorRef(this.link, this.subjects.cancel, workCodec);
    this.link.onStatus((s) => this.onLink(s));
    this.timer = setInterval(() => this.tick(), republishMs);
    this.link.start();
  }

  /** Miners heard from within the stale window. */
  get activeMiners(): number {
    const now = this.now();
    let n = 0;
    for (const m of this.miners.values()) if (now - m.at <= this.reportStaleMs) n++;
    return n;
  }

  /** Solutions accepted so far. */
  get solutions(): number {
    return this.solved;
  }

  mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null> {
    if (this.closed || signal.aborted) return Promise.resolve(null);
    if (this.job) this.finish(this.job, null);
    return new Promise((resolve) => {
      const jobId = `${this.init.farmId}-${this.session}-${++this.counter}`.slice(-100);
      const job: Job = { jobId, work: { header: Uint8Array.from(work.header), target: work.target }, resolve, publishedAt: new Map(), slices: 0, signal, onAbort: () => this.finish(job, null) };
      this.job = job;
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.publishMissing();
    });
  }

  /** Sum of the hash rates reported by active miners working on this peer's jobs, hashes per second. */
  hashRate(): number {
    const now = this.now();
    let rate = 0;
    for (const m of this.miners.values()) if (m.ours && now - m.at <= this.reportStaleMs) rate += m.report.hashRate;
    return rate;
  }

  /** Cancels the current job and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.job) this.finish(this.job, null);
    for (const s of this.subs) s.unsubscribe();
    await this.link.close();
  }

  private onLink(s: LinkStatus): void {
    switch (s.type) {
      case 'connected':
        this.subscribe();
        this.publishMissing();
        return;
      case 'reconnected':
        // Whatever was published during the outage may be lost: claims come from fresh reports only.
        this.job?.publishedAt.clear();
        this.publishMissing();
        return;
      case 'disconnected':
      case 'reconnecting':
      case 'unreachable':
      case 'error':
      case 'closed':
        return;
    }
  }

  private subscribe(): void {
    const nc = this.link.nc;
    if (!nc || this.closed) return;
    this.subs.push(
      nc.subscribe(this.solutionSubject, {
        callback: (err, m) => {
          if (err) return;
          const d = decodeJson(m.data, MAX_FARM_MESSAGE_BYTES);
          const sol = d.ok ? parseFarmSolution(d.value) : undefined;
          if (!sol) {
            this.log.warn({ subject: m.subject }, 'malformed farm solution dropped');
            return;
          }
          this.onSolution(sol.jobId, sol.minerId, fromHex(sol.header, HEADER_BYTES), sol.hashes);
        },
      }),
      nc.subscribe(this.subjects.report, {
        callback: (err, m) => {
          if (err) return;
          const d = decodeJson(m.data, MAX_FARM_MESSAGE_BYTES);
          const report = d.ok ? parseFarmReport(d.value) : undefined;
          if (!report) return;
          const prev = this.miners.get(report.minerId);
          const ours = report.jobId === null ? (prev?.ours ?? false) : report.jobId.startsWith(`${this.init.farmId}-${this.session}-`);
          if (!prev) this.log.info({ minerId: report.minerId, workers: report.workers }, 'farm miner joined');
          this.miners.set(report.minerId, { report, at: this.now(), ours });
        },
      }),
    );
  }

  private onSolution(jobId: string, minerId: string, header: Uint8Array, hashes: number): void {
    const job = this.job;
    if (!job || job.jobId !== jobId) {
      this.log.debug({ jobId, minerId }, 'solution for a stale job ignored');
      return;
    }
    const verdict = checkFarmSolution(job.work.header, job.work.target, header);
    if (!verdict.ok) {
      this.log.warn({ jobId, minerId, reason: verdict.reason }, 'farm solution refused');
      return;
    }
    this.solved++;
    this.log.debug({ jobId, minerId, hashes }, 'farm solution accepted');
    this.finish(job, { header, hashes });
  }

  /** Resolves the job, forgets it and tells every miner to stop it. */
  private finish(job: Job, result: MiningSolution | null): void {
    if (this.job !== job) return;
    this.job = undefined;
    job.signal.removeEventListener('abort', job.onAbort);
    // To every miner (not the queue group); lost while the link is down, which the next job makes harmless.
    this.cancel.offer({ type: 'farm/cancel', v: NATS_SCHEMA_VERSION, jobId: job.jobId });
    job.resolve(result);
  }

  private tick(): void {
    const now = this.now();
    for (const [id, m] of this.miners) {
      if (now - m.at > 10 * this.reportStaleMs) {
        this.miners.delete(id);
        this.log.info({ minerId: id }, 'farm miner gone');
      }
    }
    this.publishMissing();
  }

  /** Publishes every slice of the current job that no fresh report claims and that was not published recently. */
  private publishMissing(): void {
    const job = this.job;
    if (!job || !this.link.isUp) return;
    const now = this.now();
    const claimed = new Set<number>();
    for (const m of this.miners.values()) {
      if (now - m.at <= this.reportStaleMs && m.report.jobId === job.jobId && m.report.slice !== null) claimed.add(m.report.slice);
    }
    const wanted = Math.min(Math.max(1, this.activeMiners), MAX_JOB_SLICES);
    job.slices = Math.max(job.slices, wanted);
    for (let slice = 0; slice < wanted; slice++) {
      if (claimed.has(slice)) continue;
      const last = job.publishedAt.get(slice);
      if (last !== undefined && now - last < this.claimTimeoutMs) continue;
      const sent = this.work.offer({
        type: 'farm/job',
        v: NATS_SCHEMA_VERSION,
        jobId: job.jobId,
        slice,
        slices: job.slices,
        header: toHex(sliceHeader(job.work.header, slice)),
        target: targetToHex(job.work.target),
        solutionSubject: this.solutionSubject,
        hops: 0,
      });
      if (sent) job.publishedAt.set(slice, now);
    }
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0) throw new NatsOptionError(`options.${name} must be a positive integer`);
  return v;
}
