/** The consensus core: pure functions and types, no IO. */
export * from './encoding.js';
export * from './hash.js';
export * from './header.js';
export * from './transaction.js';
export * from './merkle.js';
export * from './block.js';
export * from './pow.js';
export * from './params.js';
export * from './genesis.js';
export * from './ed25519.js';
export * from './reject.js';
export * from './state.js';
export * from './validation.js';
