/** The extension seam and its first user, permessage-deflate (RFC 7692). */
export * from './extension.js';
export * from './header.js';
export * from './deflate-negotiation.js';
export * from './permessage-deflate.js';
export * from './deflate-handshake.js';
