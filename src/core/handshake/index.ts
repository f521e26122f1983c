/**
 * The opening handshake (RFC 6455 section 4), sans I/O, split as
 * tungstenite's handshake/: keys, the HTTP head, the client's side, the
 * server's side, and the seam where extensions negotiate.
 */
export * from './client.js';
export * from './errors.js';
export * from './extensions.js';
export * from './http.js';
export * from './keys.js';
export * from './server.js';
