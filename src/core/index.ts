/**
 * The sans-I/O RFC 6455 core: no sockets, timers or promises. Everything else
 * in wsstream is an adapter around it.
 */
export * from './close.js';
export * from './connection.js';
export * from './errors.js';
export * from './frame.js';
export * from './handshake/index.js';
export * from './mask.js';
export * from './parser.js';
export * from './utf8.js';
