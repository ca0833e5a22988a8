/**
 * The block store: the {@link BlockStore} interface, its LMDB and in-memory
 * implementations, and the LMDB key layout (`keys.ts`).
 */
export * from './block-store.js';
export { LmdbBlockStore, type LmdbBlockStoreInit } from './lmdb-store.js';
export { MemoryBlockStore } from './memory-store.js';
export { SCHEMA_VERSION, IDENTITY_FILE, DB_NAMES } from './keys.js';
