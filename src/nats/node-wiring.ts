/**
 * NATS as an optional part of a peer, handed to `startNode` by the command
 * line (the node never imports this folder): the bridge service and, when the
 * peer's local miner is off, a farm miner as its hash power.
 */
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/schema.js';
import { loadOrCreateApiToken } from '../node/api-token.js';
import type { NodeDeps, NodeService } from '../node/node.js';
import { natsBridgeChildSpec } from './bridge.js';
import { NatsFarmMiner } from './farm.js';

/**
 * The farm miner of a peer: present when `nats` is configured and
 * `mining.enabled` is false (a peer whose local miner is off mines through
 * its farm). Undefined otherwise.
 * @throws SubjectTokenError when the node id cannot be a subject token.
 */
export function natsFarmForNode(parts: { config: Pick<NodeConfig, 'nats' | 'mining' | 'network'>; nodeId: string; logger: Logger }): NatsFarmMiner | undefined {
  const { config, nodeId, logger } = parts;
  if (!config.nats || !config.nats.farm || config.mining.enabled) return undefined;
  return new NatsFarmMiner({ url: config.nats.url, network: config.network, farmId: nodeId, logger, ...(config.nats.name !== undefined ? { name: `${config.nats.name}-farm` } : {}) });
}

/**
 * The bridge service of a peer: its child spec when `nats` is configured, undefined otherwise. Control
 * requests over NATS carry the same token as the HTTP API's control routes: the one in the data folder
 * (created here, mode 0600, when the HTTP API has not created it yet).
 * @throws ApiTokenError when `<dataDir>/api.token` is readable by others or malformed.
 */
export const natsBridgeService: NodeService = ({ config, nodeId, bus, api, logger }) => {
  if (!config.nats) return undefined;
  const controlToken = loadOrCreateApiToken(config.dataDir);
  return natsBridgeChildSpec({ url: config.nats.url, ...(config.nats.name !== undefined ? { name: config.nats.name } : {}), network: config.network, nodeId, bus, api, logger, controlToken });
};

/** What a peer gets from NATS, to spread into {@link NodeDeps}: the bridge, and the farm as hash power. */
export const natsNodeDeps: Pick<NodeDeps, 'externalMiner' | 'services'> = {
  externalMiner: natsFarmForNode,
  services: [natsBridgeService],
};
