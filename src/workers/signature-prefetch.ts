import type { TransferTx } from '../core/transaction.js';
import type { SignatureVerifier } from './verify-pool.js';

/**
 * Most verdicts started ahead and not yet taken: a few syncing BLOCKS
 * messages' worth (about 10 MB of promises at the bound). Past it,
 * prefetching stops until the chain takes some or the oldest are dropped.
 */
export const MAX_PREFETCHED_SIGNATURES = 50_000;

/**
 * A {@link SignatureVerifier} that can start checking signatures before they
 * are asked for: while the chain connects one batch of blocks, the gossip
 * actor hands it the next batch it received, whose signatures are then
 * checked in the worker threads meanwhile. A later {@link verify} with the
 * transfers' txids takes the verdicts already started instead of checking
 * again. Keyed by txid, which commits to every signed field and to the
 * signature: one txid, one verdict (as the chain's verified-transfer cache).
 * Verdicts never taken are dropped oldest first past
 * {@link MAX_PREFETCHED_SIGNATURES}.
 */
export class SignaturePrefetch implements SignatureVerifier {
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly inner: SignatureVerifier,
    private readonly max: number = MAX_PREFETCHED_SIGNATURES,
  ) {}

  /** Verdicts started ahead and not yet taken. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Starts checking the signatures of `txs` (txids `ids`, display hex, in
   * the same order) unless already started; does nothing when the bound is
   * reached. Never throws: a failed check is reported to the {@link verify}
   * that takes it.
   */
  prefetch(txs: readonly TransferTx[], ids: readonly string[]): void {
    const picked: number[] = [];
    for (let i = 0; i < txs.length && this.pending.size + picked.length < this.max; i++) if (!this.pending.has(ids[i]!)) picked.push(i);
    if (picked.length === 0) return;
    const verdicts = this.inner.verify(picked.map((i) => txs[i]!));
    picked.forEach((i, k) => {
      const one = verdicts.then((ok) => ok[k]!);
      // Taken later or dropped: a rejection nobody takes must not be an unhandled one.
      one.catch(() => undefined);
      this.pending.set(ids[i]!, one);
    });
  }

  /** Verdicts of `txs`; with `ids`, the ones started by {@link prefetch} are taken, the rest checked now. */
  async verify(txs: readonly TransferTx[], ids?: readonly string[]): Promise<boolean[]> {
    if (!ids || this.pending.size === 0) return this.inner.verify(txs);
    if (ids.length !== txs.length) throw new RangeError(`${ids.length} txids for ${txs.length} transfers`);
    const out = new Array<boolean>(txs.length);
    const waits: Array<Promise<unknown>> = [];
    const rest: number[] = [];
    for (let i = 0; i < txs.length; i++) {
      const started = this.pending.get(ids[i]!);
      if (!started) {
        rest.push(i);
        continue;
      }
      this.pending.delete(ids[i]!);
      waits.push(started.then((ok) => (out[i] = ok)));
    }
    if (rest.length > 0) waits.push(this.inner.verify(rest.map((i) => txs[i]!)).then((ok) => rest.forEach((i, k) => (out[i] = ok[k]!))));
    await Promise.all(waits);
    return out;
  }

  /** Forgets every verdict started ahead and closes the verifier it wraps. */
  async close(): Promise<void> {
    this.pending.clear();
    await this.inner.close();
  }
}
