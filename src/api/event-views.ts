import { toHex } from '../core/encoding.js';
import { transferFieldsJson } from '../core/transaction.js';
import { hashToHex } from '../core/hash.js';
import { assertNever } from '../core/reject.js';
import { blockSize } from '../core/block.js';
import type { NodeEvent } from '../actors/events.js';

/**
 * The JSON form of each node event on the dashboard's event stream
 * (`GET /events`, docs/api.md): the SSE `event:` field is the node event's
 * `type`, its `data:` line this object. Hashes in display hex, amounts as
 * decimal strings of base units, times in the unit each field names. No view
 * carries a whole block: a page fetches `/blocks/:hash` when it wants one.
 */
export type EventView =
  | { type: 'block-connected'; hash: string; height: number; prevHash: string; time: number; bits: number; nonce: number; txCount: number; size: number; miner: string; reward: string }
  | { type: 'block-disconnected'; hash: string; height: number }
  | { type: 'tip-changed'; hash: string; height: number; chainWork: string; previous: { hash: string; height: number }; reorgDepth: number }
  | { type: 'block-rejected'; hash: string; code: string; reason: string; source: string | null }
  | { type: 'tx-accepted'; txid: string; sender: string; recipient: string; amount: string; fee: string; nonce: number; source: string | null }
  | { type: 'tx-evicted'; txid: string; reason: string }
  | { type: 'tx-rejected'; txid: string; code: string; reason: string; source: string | null }
  | { type: 'peer-connected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound' }
  | { type: 'peer-disconnected'; nodeId: string; host: string; port: number; direction: 'inbound' | 'outbound'; reason: string }
  | { type: 'peer-banned'; nodeId: string; host: string; reason: string; untilMs: number }
  | { type: 'block-mined'; hash: string; height: number }
  | { type: 'mining-stats'; hashRate: number; workers: number; blocksWon: number }
  | { type: 'sync-progress'; height: number; targetHeight: number; blocksPerSecond: number; secondsLeft: number | null; done: boolean }
  | { type: 'status'; state: 'started' | 'stopping' };

/** The view of a node event (pure). */
export function eventView(e: NodeEvent): EventView {
  switch (e.type) {
    case 'block-connected': {
      const cb = e.block.txs[0];
      const h = e.block.header;
      return {
        type: e.type,
        hash: e.entry.hash,
        height: e.entry.height,
        prevHash: hashToHex(h.prevHash),
        time: h.time,
        bits: h.bits,
        nonce: h.nonce,
        txCount: e.block.txs.length,
        size: blockSize(e.block),
        miner: cb ? toHex(cb.recipient) : '',
        reward: cb?.type === 'coinbase' ? cb.amount.toString() : '0',
      };
    }
    case 'block-disconnected':
      return { type: e.type, hash: e.entry.hash, height: e.entry.height };
    case 'tip-changed':
      return {
        type: e.type,
        hash: e.tip.hash,
        height: e.tip.height,
        chainWork: e.tip.chainWork.toString(16),
        previous: { hash: e.previous.hash, height: e.previous.height },
        reorgDepth: e.reorgDepth,
      };
    case 'block-rejected':
      return { type: e.type, hash: e.hash, code: e.code, reason: e.reason, source: e.source ?? null };
    case 'tx-accepted':
      return { type: e.type, txid: e.txid, ...transferFieldsJson(e.tx), source: e.source ?? null };
    case 'tx-evicted':
      return { type: e.type, txid: e.txid, reason: e.reason };
    case 'tx-rejected':
      return { type: e.type, txid: e.txid, code: e.code, reason: e.reason, source: e.source ?? null };
    case 'peer-connected':
      return { type: e.type, nodeId: e.nodeId, host: e.host, port: e.port, direction: e.direction };
    case 'peer-disconnected':
      return { type: e.type, nodeId: e.nodeId, host: e.host, port: e.port, direction: e.direction, reason: e.reason };
    case 'peer-banned':
      return { type: e.type, nodeId: e.nodeId, host: e.host, reason: e.reason, untilMs: e.untilMs };
    case 'block-mined':
      return { type: e.type, hash: e.hash, height: e.height };
    case 'mining-stats':
      return { type: e.type, hashRate: e.hashRate, workers: e.workers, blocksWon: e.blocksWon };
    case 'sync-progress':
      return { type: e.type, height: e.height, targetHeight: e.targetHeight, blocksPerSecond: e.blocksPerSecond, secondsLeft: e.secondsLeft ?? null, done: e.done };
    case 'status':
      return { type: e.type, state: e.state };
    default:
      return assertNever(e);
  }
}
