/**
 * The peer wire transport: framing, message codec, limits, connections and
 * TCP (see docs/protocol.md). Only this folder touches bytes from peers.
 */
export * from './limits.js';
export * from './frame-decoder.js';
export * from './messages.js';
export * from './connection.js';
export * from './tcp.js';
