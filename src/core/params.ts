import { encodeCompact } from './pow.js';

/**
 * Hash of the mainnet genesis block, display hex (`genesisBlock(NETWORKS.mainnet)`,
 * checked by the tests; written out here because genesis.ts depends on this file).
 */
export const MAINNET_GENESIS_HASH = 'f52ca4e14fc6e36bde76b7af4e0b87ed665dd9df7f804747b4f8a0dfd2b3539a';

/** One coin in base units (like Bitcoin's satoshi). All amounts are integers of base units. */
export const COIN = 100_000_000n;
/**
 * Upper bound of any amount, balance or sum of them, in base units: 210
 * million coins (Bitcoin's `MAX_MONEY` is its total issuance, 21 million).
 * It must be at least the total issuance of every network, or a balance
 * could reach it and make valid blocks invalid: mainnet issues
 * 50 × 1,051,200 × (1 + 1/2 + …) ≈ 105.12 million coins
 * ({@link totalIssuance}, checked by the tests). Fits a u64 and stays below
 * 2^63.
 */
export const MAX_MONEY = 210_000_000n * COIN;
/** Largest serialised block accepted, in bytes (consensus). */
export const MAX_BLOCK_BYTES = 1_000_000;
/** Largest number of transactions in one block, coinbase included (consensus). */
export const MAX_BLOCK_TXS = 6_000;
/** Number of previous blocks whose median time a new block must exceed (Bitcoin's median time past, BIP 113). */
export const MEDIAN_TIME_SPAN = 11;
/** Header version every block carries. */
export const BLOCK_VERSION = 1;

/** The names of the networks cheesechain knows. */
export const NETWORK_NAMES = ['mainnet', 'devnet', 'regtest'] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

/** Consensus parameters of one network. Times are in seconds, amounts in base units. */
export interface NetworkParams {
  readonly name: NetworkName;
  /** Easiest target allowed; also the target of the genesis bits unless `genesisBits` says otherwise. */
  readonly powLimit: bigint;
  /** Compact bits of the genesis block. */
  readonly genesisBits: number;
  /** Genesis header time, seconds since the Unix epoch. */
  readonly genesisTime: number;
  /** Intended spacing between blocks, seconds. */
  readonly blockTimeSeconds: number;
  /** Blocks between difficulty adjustments (1 under ASERT: every block). */
  readonly retargetInterval: number;
  /** When true, every block keeps the genesis bits (regtest). */
  readonly noRetarget: boolean;
  /**
   * When set, the difficulty follows ASERT (Bitcoin Cash's aserti3-2d) with
   * this half-life, seconds, anchored at block 1, instead of Bitcoin's
   * windows: the target adjusts at every block, so a network whose hash rate
   * is far from the genesis difficulty's assumption reaches its block time
   * within a few half-lives instead of a run of factor-4 windows.
   */
  readonly asertHalfLifeSeconds?: number;
  /**
   * Furthest a block's time may be ahead of the local clock, seconds.
   * Bitcoin allows 7,200 s against a two-week retarget window (0.6 %); here
   * it is scaled to the network's spacing and window, so a block stamped at
   * the limit moves a retarget by a few percent, not a factor of 4.
   */
  readonly maxFutureSeconds: number;
  /**
   * BIP 94's timewarp rule: the first block of a retarget window may be at
   * most this many seconds earlier than the block before it. BIP 94 uses
   * 600 s, one block spacing of Bitcoin; here one spacing too.
   */
  readonly maxTimewarpSeconds: number;
  /**
   * Blocks before a coinbase may be spent: the coinbase of block h is
   * credited to its recipient when block h + coinbaseMaturity connects,
   * before that block's transfers (Bitcoin's `COINBASE_MATURITY` = 100: a
   * reorg then cannot take back coins that were spent on). Small on regtest
   * and devnet so that wallet flows stay quick.
   */
  readonly coinbaseMaturity: number;
  /**
   * Least cumulative work (expected hashes) a chain must have before any
   * side branch is accepted from a peer (Bitcoin Core's `nMinimumChainWork`):
   * below it a node only follows its main chain, so a fork off genesis at
   * genesis difficulty is not stored during initial sync.
   */
  readonly minimumChainWork: bigint;
  /**
   * Block hashes (display hex) by height that every chain must contain
   * (Bitcoin Core's checkpoints): a block that forks below the last
   * checkpoint is refused with `checkpoint`.
   */
  readonly checkpoints: ReadonlyMap<number, string>;
  /** Coinbase reward at height 1, base units. */
  readonly initialReward: bigint;
  /** Blocks between reward halvings. */
  readonly halvingInterval: number;
  /** Default TCP port of the peer protocol. */
  readonly defaultPort: number;
}

/**
 * The networks. Genesis hashes are derived from these (see `genesis.ts`), so
 * changing one here makes a new, incompatible network.
 */
export const NETWORKS: Readonly<Record<NetworkName, NetworkParams>> = {
  mainnet: {
    name: 'mainnet',
    powLimit: (1n << 224n) - 1n,
    genesisBits: encodeCompact((1n << 224n) - 1n),
    genesisTime: 1_795_000_000,
    blockTimeSeconds: 60,
    retargetInterval: 720,
    noRetarget: false,
    // 10 spacings: 1.4 % of the 12-hour window.
    maxFutureSeconds: 600,
    maxTimewarpSeconds: 60,
    coinbaseMaturity: 100,
    minimumChainWork: 0n,
    // Genesis is the only checkpoint so far: no mainnet chain has been published.
    checkpoints: new Map([[0, MAINNET_GENESIS_HASH]]),
    initialReward: 50n * COIN,
    halvingInterval: 1_051_200,
    defaultPort: 8330,
  },
  devnet: {
    name: 'devnet',
    powLimit: (1n << 240n) - 1n,
    // About 2^26 expected hashes: 1.3 s for three peers' native workers on an idle two-core
    // machine, 13 s for WebAssembly ones; ASERT corrects either within a minute.
    genesisBits: encodeCompact((1n << 230n) - 1n),
    genesisTime: 1_795_000_000,
    // Whole seconds of header time measure 5 s spacings to ±10 %.
    blockTimeSeconds: 5,
    retargetInterval: 1,
    noRetarget: false,
    // Six spacings: a devnet started on a machine four times faster than the genesis
    // difficulty assumes reaches its block time within about twelve blocks, and one
    // block's luck moves the next target by at most a few tens of percent.
    asertHalfLifeSeconds: 30,
    // 2 spacings: a block stamped at the limit makes the next target 2^(10/30) = 1.26× easier, once.
    maxFutureSeconds: 10,
    // Unused under ASERT (no windows to warp); kept at one spacing.
    maxTimewarpSeconds: 5,
    coinbaseMaturity: 10,
    // About 100 blocks at genesis difficulty (2^26 hashes each).
    minimumChainWork: 100n << 26n,
    checkpoints: new Map(),
    initialReward: 50n * COIN,
    halvingInterval: 210_000,
    defaultPort: 18330,
  },
  regtest: {
    name: 'regtest',
    powLimit: (1n << 255n) - 1n,
    genesisBits: 0x207fffff,
    genesisTime: 1_795_000_000,
    blockTimeSeconds: 1,
    retargetInterval: 10,
    noRetarget: true,
    maxFutureSeconds: 7200,
    maxTimewarpSeconds: 1,
    // The coinbase of block h is spendable in block h + 1: tests mine one block and spend at once.
    coinbaseMaturity: 1,
    minimumChainWork: 0n,
    checkpoints: new Map(),
    initialReward: 50n * COIN,
    halvingInterval: 150,
    defaultPort: 28330,
  },
};

/** Every coin a network will ever issue: the sum of {@link blockReward} over all heights, base units. */
export function totalIssuance(params: NetworkParams): bigint {
  let total = 0n;
  for (let halvings = 0; halvings < 64; halvings++) {
    const reward = params.initialReward >> BigInt(halvings);
    if (reward === 0n) break;
    // Height 0 (genesis) pays nothing.
    const blocks = BigInt(params.halvingInterval) - (halvings === 0 ? 1n : 0n);
    total += reward * blocks;
  }
  return total;
}

/** The block reward at `height` in base units: `initialReward` halved every `halvingInterval` blocks. */
export function blockReward(params: NetworkParams, height: number): bigint {
  const halvings = Math.floor(height / params.halvingInterval);
  if (halvings >= 64) return 0n;
  return params.initialReward >> BigInt(halvings);
}
