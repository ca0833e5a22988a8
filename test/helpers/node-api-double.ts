import type { NodeApi } from '../../src/node/node-api.js';

/** The read and submit part of {@link NodeApi} that the HTTP and wallet unit tests answer themselves. */
export type CoreApi = Pick<NodeApi, 'info' | 'blockByHash' | 'blockByHeight' | 'transaction' | 'account' | 'submitTransaction' | 'peers' | 'submitBlock'>;

/**
 * A {@link NodeApi} whose core methods are `base`'s and whose other methods
 * reject: a unit test that reaches one of them fails with the method's name.
 * Control routes are tested against a real node (test/api/control.test.ts).
 */
export function coreApiOnly(base: CoreApi): NodeApi {
  const unused = (name: string) => async (): Promise<never> => {
    throw new Error(`NodeApi.${name} is not answered by this test double`);
  };
  return {
    info: () => base.info(),
    blockByHash: (h) => base.blockByHash(h),
    blockByHeight: (h) => base.blockByHeight(h),
    transaction: (id) => base.transaction(id),
    account: (k) => base.account(k),
    submitTransaction: (tx) => base.submitTransaction(tx),
    peers: () => base.peers(),
    submitBlock: (b) => base.submitBlock(b),
    chain: unused('chain'),
    mempool: unused('mempool'),
    tracker: unused('tracker'),
    startMining: unused('startMining'),
    stopMining: unused('stopMining'),
    connectPeer: unused('connectPeer'),
    connectTrackerPeers: unused('connectTrackerPeers'),
    disconnectPeer: unused('disconnectPeer'),
    ban: unused('ban'),
    unban: unused('unban'),
    bans: unused('bans'),
    traffic: unused('traffic'),
    sendTransfer: unused('sendTransfer'),
    stopNode: unused('stopNode'),
  };
}
