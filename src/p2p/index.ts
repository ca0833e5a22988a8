/**
 * `cheesechain/p2p`: python-p2p-network 1.2's programming model (source
 * document 002) in TypeScript — `Node` and `NodeConnection` to extend or to
 * use with a callback, and `SecureNode`, whose signed messages are byte for
 * byte those of the Python SecureNode. Wire-compatible with the Python
 * library in both directions. See docs/p2p.md.
 *
 * ```ts
 * import { Node } from 'cheesechain/p2p';
 * const node = new Node({ host: '127.0.0.1', port: 10001, callback: (event, main, conn, data) => console.log(event, data) });
 * await node.start();
 * await node.connectWithNode('127.0.0.1', 10002);
 * node.sendToNodes({ message: 'hi from TypeScript' });
 * ```
 */
export * from './constants.js';
export * from './framing.js';
export * from './id-exchange.js';
export * from './wire-connection.js';
export * from './dial.js';
export * from './node-connection.js';
export * from './node.js';
export * from './python-json.js';
export * from './secure-node.js';
