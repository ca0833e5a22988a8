/**
 * The messages between the signature verification pool and its piscina
 * workers (plain data, as piscina sends them with the structured clone).
 */

/** One task: transfers packed back to back in their binary encoding (`TRANSFER_BYTES` each). */
export interface VerifyTask {
  /** Network id (genesis hash, 32 bytes) the signatures must be made for. */
  networkId: Uint8Array;
  /** `count × TRANSFER_BYTES` bytes. */
  transfers: Uint8Array;
}

/** One byte per transfer of the task, in order: 1 when its signature verifies, 0 when not. */
export type VerifyTaskResult = Uint8Array;
