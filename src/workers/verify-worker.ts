/**
 * A piscina worker of the signature verification pool: decodes each packed
 * transfer and runs the one signature rule of the consensus core
 * (`verifyTransferSignature`), the same function the node's thread runs.
 */
import { decodeTx, TRANSFER_BYTES } from '../core/transaction.js';
import { verifyTransferSignature } from '../core/validation.js';
import type { VerifyTask, VerifyTaskResult } from './verify-task.js';

export default function verifyTransfers(task: VerifyTask): VerifyTaskResult {
  const { networkId, transfers } = task;
  const count = transfers.length / TRANSFER_BYTES;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const tx = decodeTx(transfers.subarray(i * TRANSFER_BYTES, (i + 1) * TRANSFER_BYTES));
    out[i] = tx.type === 'transfer' && verifyTransferSignature(tx, networkId) ? 1 : 0;
  }
  return out;
}
