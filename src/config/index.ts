/** The config of a peer: one schema (`schema.ts`) and its loader (`load.ts`). See docs/config.md. */
export * from './schema.js';
export * from './load.js';
