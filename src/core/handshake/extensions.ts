/**
 * Where extensions (RFC 6455 9) plug into the opening handshake. No
 * extension is implemented here: these are the three points one needs (the
 * client's offer, the server's answer, the client's check of that answer),
 * and the defaults that negotiate none. permessage-deflate (RFC 7692)
 * implements {@link ClientExtensions} and {@link ServerExtensions}; what they
 * agree on is handed to the Connection, which transforms messages in and out.
 */
import { HandshakeError } from './errors.js';
import { splitList } from './http.js';

/** The client's side of extension negotiation. */
export interface ClientExtensions {
  /** The value of the request's Sec-WebSocket-Extensions header; '' sends none. */
  offer(): string;
  /**
   * Checks the server's Sec-WebSocket-Extensions value ('' when absent) against
   * the offer and returns what was agreed (the value as accepted, '' for
   * none). RFC 6455 4.1: a response that "indicates the use of an extension
   * that was not present in the client's handshake" MUST fail the connection:
   * throw a {@link HandshakeError} (`UNREQUESTED_EXTENSION`).
   */
  accept(response: string): string;
}

/** The server's side of extension negotiation. */
export interface ServerExtensions {
  /**
   * Given the request's Sec-WebSocket-Extensions value ('' when absent),
   * returns the value of the response's header ('' accepts none). RFC 6455
   * 9.1: the server answers with the extensions it accepts, in the order it
   * uses them. May throw a {@link HandshakeError}
   * (`MALFORMED_EXTENSION_OFFER`, answered with 400).
   */
  respond(offer: string): string;
}

/** The extension names of a Sec-WebSocket-Extensions value, lower-cased, parameters dropped. */
export function extensionNames(value: string): string[] {
  return splitList(value).map((ext) => ext.split(';')[0]!.trim().toLowerCase());
}

/**
 * A client that offers the extensions named `names` (no parameters) and
 * accepts an answer that names only offered extensions, with any parameters.
 * With no names (the default), an answer naming any extension fails.
 */
export function offerExtensionsByName(names: readonly string[] = []): ClientExtensions {
  const offered = names.map((n) => n.toLowerCase());
  return {
    offer: () => names.join(', '),
    accept(response: string): string {
      const names = extensionNames(response);
      // Only empty list elements (", ,"): no extension is in use.
      if (names.length === 0) return '';
      for (const name of names) {
        if (!offered.includes(name)) {
          throw new HandshakeError(
            'UNREQUESTED_EXTENSION',
            `Server accepted extension "${name}", which was not offered`,
          );
        }
      }
      return response.trim();
    },
  };
}

/** The client default: offers nothing, accepts no extension. */
export const NO_CLIENT_EXTENSIONS: ClientExtensions = offerExtensionsByName();

/** The server default: accepts no extension, whatever is offered. */
export const NO_SERVER_EXTENSIONS: ServerExtensions = { respond: () => '' };
