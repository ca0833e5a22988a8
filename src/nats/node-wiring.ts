/**
 * What `startNode` calls to put NATS into a peer (kept here so that the
 * node's assembly stays a few lines): the bridge child spec and, when the
 * peer's local miner is off, a farm miner as its hash power.
 */
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/schema.js';
import type { EventBus } from '../node/events.js';
import type { NodeApi } from '../node/node-api.js';
import type { ChildSpec } from '../actors/runtime/supervisor.js';
import { natsBridgeChildSpec, type BridgeMsg } from './bridge.js';
import { NatsFarmMiner } from './farm.js';

/**
 * The farm miner of a peer: present when `nats` is configured and
 * `mining.enabled` is false (a peer whose local miner is off mines through
 * its farm). Undefined otherwise.
 * @throws SubjectTokenError when the node id cannot be a subject token.
 */
export function natsFarmForNode(config: Pick<NodeConfig, 'nats' | 'mining' | 'network'>, nodeId: string, logger: Logger): NatsFarmMiner | undefined {
  if (!config.nats || !config.nats.farm || config.mining.enabled) return undefined;
  return new NatsFarmMiner({ url: config.nats.url, network: config.network, farmId: nodeId, logger, ...(config.nats.name !== undefined ? { name: `${config.nats.name}-farm` } : {}) });
}

/** The bridge child of a peer when `nats` is configured; undefined otherwise. */
export function natsBridgeForNode(
  config: Pick<NodeConfig, 'nats' | 'network'>,
  parts: { nodeId: string; bus: EventBus; api: NodeApi; logger: Logger },
): ChildSpec<BridgeMsg> | undefined {
  if (!config.nats) return undefined;
  return natsBridgeChildSpec({ url: config.nats.url, ...(config.nats.name !== undefined ? { name: config.nats.name } : {}), network: config.network, ...parts });
}
