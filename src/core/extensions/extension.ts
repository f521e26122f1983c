/**
 * The extension seam of the core (RFC 6455 9): after the handshake has agreed
 * on an extension, the connection hands each whole data message through a
 * {@link MessageTransform} on the way out and on the way in. The transform is
 * synchronous and sans-I/O like the rest of the core; anything that needs the
 * runtime (zlib) is injected by the transport layer.
 */

/** The result of decoding one received message. */
export type DecodeResult =
  | { readonly ok: true; readonly data: Uint8Array }
  /** The decoded message would exceed the byte budget: the connection fails with 1009. */
  | { readonly ok: false; readonly reason: 'too-big' }
  /** The payload is not valid for the extension: the connection fails with 1007. */
  | { readonly ok: false; readonly reason: 'invalid'; readonly message: string };

/** A per-message transform, as permessage-deflate (RFC 7692) defines one. */
export interface MessageTransform {
  /** The agreed extension as it appears in the handshake, e.g. `permessage-deflate; server_max_window_bits=12`. */
  readonly header: string;
  /** Messages shorter than this many bytes are never encoded (a hint: {@link encode} decides). */
  readonly threshold: number;
  /**
   * Encodes one outgoing message payload. Returns the bytes to send with RSV1
   * set, or null to send the message unchanged with RSV1 clear (a message below
   * the compression threshold, say).
   */
  encode(payload: Uint8Array): Uint8Array | null;
  /**
   * Bytes past a received payload that {@link decode} can use (permessage-deflate
   * appends a four-octet tail): a receiver that allocates this much more for a
   * message it decodes spares decode a copy of the message.
   */
  readonly decodeSlack: number;
  /**
   * Decodes one received message payload that arrived with RSV1 set, producing
   * at most `maxBytes` bytes; anything longer is refused as 'too-big' without
   * ever holding more than `maxBytes` plus one output chunk. `slack` bytes
   * after `payload` in its buffer are the caller's, free to be written over.
   */
  decode(payload: Uint8Array, maxBytes: number, slack?: number): DecodeResult;
}
