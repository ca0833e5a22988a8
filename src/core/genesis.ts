import { computeMerkleRoot, type Block } from './block.js';
import { headerHash } from './header.js';
import { ZERO_HASH } from './hash.js';
import { BLOCK_VERSION, NETWORKS, type NetworkName, type NetworkParams } from './params.js';

/**
 * The genesis block of a network: one coinbase of zero paying the all-zero key
 * (nobody can spend it), prevHash zero, the network's genesis time and bits,
 * nonce 0. Genesis is fixed by the parameters and is not checked for proof of
 * work; its hash is the network id carried in HELLO and signed by every
 * transfer.
 */
export function genesisBlock(params: NetworkParams): Block {
  const txs = [{ type: 'coinbase' as const, recipient: new Uint8Array(32), amount: 0n, height: 0 }];
  return {
    header: {
      version: BLOCK_VERSION,
      prevHash: ZERO_HASH,
      merkleRoot: computeMerkleRoot(txs),
      time: params.genesisTime,
      bits: params.genesisBits,
      nonce: 0,
    },
    txs,
  };
}

const cache = new Map<NetworkName, Uint8Array>();

/** The network id: hash of the genesis header (internal byte order). */
export function networkId(params: NetworkParams): Uint8Array {
  let id = cache.get(params.name);
  if (!id) {
    id = headerHash(genesisBlock(params).header);
    cache.set(params.name, id);
  }
  return id;
}

/** Parameters by name. @throws RangeError for an unknown network. */
export function networkParams(name: string): NetworkParams {
  const p = (NETWORKS as Record<string, NetworkParams>)[name];
  if (!p) throw new RangeError(`unknown network ${JSON.stringify(name)}; expected one of ${Object.keys(NETWORKS).join(', ')}`);
  return p;
}
