/** The actor runtime: typed refs, bounded mailboxes, request/reply, supervisors. */
export * from './actor.js';
export * from './errors.js';
export * from './supervisor.js';
