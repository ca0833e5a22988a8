/**
 * A baseline of the intake benchmark, run in a fresh worker thread so that
 * it starts with cold caches (the parsed-key cache of `verifySignature`), as
 * the peer under test does: `verify` runs `verifySignature` over every
 * transfer (signing bytes included); `mempool` offers them to a mempool actor
 * alone, under a supervisor as in a node, in `mempool/add-many` asks of
 * `batch` transfers. Posts one {@link BaselineResult}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MempoolActor, type AddTxResult, type MempoolMsg } from '../../src/actors/mempool.js';
import { Supervisor } from '../../src/actors/runtime/supervisor.js';
import { verifySignature } from '../../src/core/ed25519.js';
import type { Account, AccountReader } from '../../src/core/state.js';
import { signingBytes, type TransferTx } from '../../src/core/transaction.js';
import { EventBus } from '../../src/actors/events.js';
import { regtestId } from '../../test/helpers/chain-builder.js';
import { startSpan, type Span } from './stats.js';
import { request } from '../../src/actors/runtime/actor.js';

/** What the main thread sends: the transfers, and for `mempool` the confirmed state they spend from. */
export interface BaselineJob {
  kind: 'verify' | 'mempool';
  txs: TransferTx[];
  state: Map<string, Account>;
  batch: number;
}

export interface BaselineResult {
  count: number;
  span: Span;
}

/** Longest wait for one ask, ms. */
const ASK_TIMEOUT_MS = 120_000;

async function verifyAll(txs: TransferTx[]): Promise<BaselineResult> {
  const stop = startSpan();
  for (const tx of txs) if (!verifySignature(signingBytes(regtestId, tx), tx.signature, tx.sender)) throw new Error('benchmark: a valid signature was rejected');
  return { count: txs.length, span: stop() };
}

async function mempoolAll(job: BaselineJob): Promise<BaselineResult> {
  const reader: AccountReader = { getAccount: (key) => job.state.get(key) };
  const root = new Supervisor({ name: 'bench' });
  try {
    const mempool = await root.startChild<MempoolMsg>({ id: 'mempool', start: () => new MempoolActor({ networkId: regtestId, state: reader, bus: new EventBus() }) });
    const stop = startSpan();
    let accepted = 0;
    for (let i = 0; i < job.txs.length; i += job.batch) {
      const batch = job.txs.slice(i, i + job.batch);
      const results = await request(mempool, 'mempool/add-many', { txs: batch }, ASK_TIMEOUT_MS);
      for (const r of results) {
        if (!r.accepted) throw new Error(`benchmark: the mempool refused ${r.txid}: ${r.code}: ${r.reason}`);
        accepted++;
      }
    }
    return { count: accepted, span: stop() };
  } finally {
    await root.stop();
  }
}

const job = workerData as BaselineJob;
parentPort!.postMessage(await (job.kind === 'verify' ? verifyAll(job.txs) : mempoolAll(job)));
