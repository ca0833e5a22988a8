/**
 * Contract between the miner actor and the mining pool (`pool.ts`, piscina
 * workers running the kernel). Owned by the mining subsystem.
 */

/** Work for the pool: an 80-byte header template (its nonce field is ignored) and the target it must meet. */
export interface MiningWork {
  /** 80 bytes, Bitcoin layout; time at offset 68, nonce at offset 76 (little-endian). */
  header: Uint8Array;
  /** The header hash, read as a little-endian 256-bit integer, must be ≤ target. */
  target: bigint;
}

/** A solved header: the 80 bytes with nonce (and possibly a rolled time) filled in. */
export interface MiningSolution {
  header: Uint8Array;
  /** Hashes tried for this work across all workers. */
  hashes: number;
}

/** What the miner actor needs from a pool (local piscina pool or, later, a NATS farm). */
export interface Miner {
  /**
   * Searches nonces (rolling the header time forward when the 2^32 nonces are
   * used up) until a solution is found or `signal` aborts; resolves null when
   * aborted. Only one `mine` call runs at a time.
   */
  mine(work: MiningWork, signal: AbortSignal): Promise<MiningSolution | null>;
  /** Current hash rate in hashes per second over the last few seconds. */
  hashRate(): number;
  close(): Promise<void>;
}
