/**
 * The frame codec of the peer wire. It lives in the `cheesechain/p2p`
 * library (python-p2p-network 1.2 framing, document 002); the transport uses
 * that one implementation.
 */
export * from '../p2p/framing.js';
