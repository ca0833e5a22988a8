import { encodeCompact } from './pow.js';

/** One coin in base units (like Bitcoin's satoshi). All amounts are integers of base units. */
export const COIN = 100_000_000n;
/** Upper bound of any amount, balance or sum of them, in base units (21 million coins, as Bitcoin's `MAX_MONEY`). */
export const MAX_MONEY = 21_000_000n * COIN;
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
  /** Blocks between difficulty adjustments. */
  readonly retargetInterval: number;
  /** When true, every block keeps the genesis bits (regtest). */
  readonly noRetarget: boolean;
  /** Furthest a block's time may be ahead of the local clock, seconds (Bitcoin: 7200). */
  readonly maxFutureSeconds: number;
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
    maxFutureSeconds: 7200,
    initialReward: 50n * COIN,
    halvingInterval: 1_051_200,
    defaultPort: 8330,
  },
  devnet: {
    name: 'devnet',
    powLimit: (1n << 240n) - 1n,
    // About 2^22 expected hashes: well under a second for a two-worker pool.
    genesisBits: encodeCompact((1n << 234n) - 1n),
    genesisTime: 1_795_000_000,
    blockTimeSeconds: 2,
    retargetInterval: 10,
    noRetarget: false,
    maxFutureSeconds: 7200,
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
    initialReward: 50n * COIN,
    halvingInterval: 150,
    defaultPort: 28330,
  },
};

/** The block reward at `height` in base units: `initialReward` halved every `halvingInterval` blocks. */
export function blockReward(params: NetworkParams, height: number): bigint {
  const halvings = Math.floor(height / params.halvingInterval);
  if (halvings >= 64) return 0n;
  return params.initialReward >> BigInt(halvings);
}
