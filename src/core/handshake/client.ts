/**
 * The client's side of the opening handshake (RFC 6455 4.1): the request it
 * sends and the checks the server's response must pass.
 */
import { HandshakeError } from './errors.js';
import { NO_CLIENT_EXTENSIONS, type ClientExtensions } from './extensions.js';
import { hasToken, type ResponseHead } from './http.js';
import { acceptKey, WEBSOCKET_VERSION, type Sha1Base64 } from './keys.js';

/** What a client needs to build its request. */
export interface ClientRequestOptions {
  /** Host header value: host[:port], IPv6 in brackets, default port omitted. */
  host: string;
  /** Request target: path and query. */
  path: string;
  key: string;
  protocols?: readonly string[];
  /** The extension offer ({@link ClientExtensions.offer}); '' or absent sends none. */
  extensions?: string;
  /** Validated user headers ({@link validateUserHeaders}). */
  headers?: ReadonlyArray<readonly [string, string]>;
}

/** The client's opening handshake request (RFC 6455 4.1). */
export function buildClientRequest(o: ClientRequestOptions): string {
  let hostSet = false;
  let extra = '';
  for (const [name, value] of o.headers ?? []) {
    if (name.toLowerCase() === 'host') hostSet = true;
    extra += `${name}: ${value}\r\n`;
  }
  let req = `GET ${o.path} HTTP/1.1\r\n`;
  if (!hostSet) req += `Host: ${o.host}\r\n`;
  req += 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  req += `Sec-WebSocket-Key: ${o.key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (o.protocols !== undefined && o.protocols.length > 0) {
    req += `Sec-WebSocket-Protocol: ${o.protocols.join(', ')}\r\n`;
  }
  if (o.extensions !== undefined && o.extensions !== '')
    req += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  return `${req}${extra}\r\n`;
}

/** What the client offered, to check the response against. */
export interface ClientOffer {
  key: string;
  /** SHA-1 to check the accept key with, from the I/O layer. */
  sha1Base64: Sha1Base64;
  protocols: readonly string[];
  /** The extension negotiation the request's offer came from; default none ({@link NO_CLIENT_EXTENSIONS}). */
  extensions?: ClientExtensions;
}

/** The negotiated result of a successful handshake. */
export interface Negotiated {
  protocol: string;
  extensions: string;
}

/**
 * Validates the server's response (RFC 6455 4.1, "the client MUST validate
 * the server's response"). Throws {@link HandshakeError} with a message a user
 * can act on.
 */
export function validateServerResponse(res: ResponseHead, offer: ClientOffer): Negotiated {
  if (res.status !== 101) {
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== undefined) {
      throw new HandshakeError(
        'REDIRECT',
        `Server responded with ${res.status} ${res.statusText}, redirecting to ${location}; redirects are not followed`,
      );
    }
    throw new HandshakeError(
      'UNEXPECTED_STATUS',
      `Server responded with ${res.status} ${res.statusText} instead of 101 Switching Protocols`.replace(
        '  ',
        ' ',
      ),
    );
  }
  // "If the response lacks an |Upgrade| header field or the |Upgrade| header field
  // contains a value that is not an ASCII case-insensitive match for the value
  // "websocket", the client MUST _Fail the WebSocket Connection_."
  const upgrade = res.headers.get('upgrade');
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    throw new HandshakeError('BAD_UPGRADE', 'Server response lacks "Upgrade: websocket"');
  }
  // "If the response lacks a |Connection| header field or the |Connection| header
  // field doesn't contain a token that is an ASCII case-insensitive match for the
  // value "Upgrade", the client MUST _Fail the WebSocket Connection_."
  if (!hasToken(res.headers.get('connection'), 'upgrade')) {
    throw new HandshakeError('BAD_CONNECTION', 'Server response lacks "Connection: Upgrade"');
  }
  const accept = res.headers.get('sec-websocket-accept');
  if (
    res.headers.count('sec-websocket-accept') !== 1 ||
    accept !== acceptKey(offer.key, offer.sha1Base64)
  ) {
    throw new HandshakeError(
      'BAD_ACCEPT',
      'Server response has a missing or wrong Sec-WebSocket-Accept',
    );
  }
  // "If the response includes a |Sec-WebSocket-Extensions| header field and this
  // header field indicates the use of an extension that was not present in the
  // client's handshake ..., the client MUST _Fail the WebSocket Connection_."
  const extensions = (offer.extensions ?? NO_CLIENT_EXTENSIONS).accept(
    res.headers.get('sec-websocket-extensions') ?? '',
  );
  // "If the response includes a |Sec-WebSocket-Protocol| header field and this
  // header field indicates the use of a subprotocol that was not present in the
  // client's handshake ..., the client MUST _Fail the WebSocket Connection_."
  // And the WHATWG WebSockets standard (Chrome, ws) asks for one when some were
  // offered: "If |protocols| is not the empty list and extracting header list
  // values given `Sec-WebSocket-Protocol` ... results in null, failure, or the
  // empty byte sequence, then fail the WebSocket connection."
  const protoHeader = res.headers.get('sec-websocket-protocol');
  if (offer.protocols.length > 0 && (protoHeader === undefined || protoHeader.trim() === '')) {
    throw new HandshakeError(
      'MISSING_PROTOCOL',
      `Server selected no subprotocol, and ${offer.protocols.length === 1 ? `"${offer.protocols[0]!}" was` : 'some were'} offered`,
    );
  }
  let protocol = '';
  if (protoHeader !== undefined) {
    protocol = protoHeader.trim();
    if (res.headers.count('sec-websocket-protocol') !== 1 || !offer.protocols.includes(protocol)) {
      throw new HandshakeError(
        'UNREQUESTED_PROTOCOL',
        `Server selected subprotocol "${protocol}", which was not offered`,
      );
    }
  }
  return { protocol, extensions };
}
