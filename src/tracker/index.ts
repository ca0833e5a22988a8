/**
 * The tracker (design.md, "Tracker"; source documents 001 and 004): the text
 * protocol, the server and the client a peer uses. `docs/tracker.md`
 * describes the protocol byte by byte.
 */
export * from './protocol.js';
export * from './member-table.js';
export * from './text-session.js';
export * from './liveness.js';
export * from './server.js';
export * from './client.js';
