/**
 * The send side of a {@link Connection}: turns messages and control payloads
 * into frames in the outgoing queue. It masks (client), compresses through the
 * negotiated extension, splits messages into fragments and counts what the
 * application sent. It knows no state: the connection decides what may be
 * sent before it calls in.
 */
import type { MessageTransform } from './extensions/extension.js';
import { encodeFrame, encodeTextFrame, Opcode } from './frame.js';
import { MaskKeyPool } from './mask.js';

/** The payload length of an encoded frame, read back from its header (RFC 6455 5.2). */
function payloadLength(frame: Uint8Array): number {
  const length = frame[1]! & 0x7f;
  if (length < 126) return length;
  if (length === 126) return (frame[2]! << 8) | frame[3]!;
  // 64-bit length: frames this library encodes stay far below 2^53.
  return (
    (frame[2]! * 0x1000000 + (frame[3]! << 16) + (frame[4]! << 8) + frame[5]!) * 0x100000000 +
    (frame[6]! * 0x1000000 + (frame[7]! << 16) + (frame[8]! << 8) + frame[9]!)
  );
}

/**
 * One pool of masking keys for every client connection of the process, so
 * that a short connection does not fetch a pool of randomness it mostly never
 * uses. Each key is still fresh CSPRNG output (RFC 6455 5.3).
 */
let sharedMaskKeys: MaskKeyPool | undefined;
function nextSharedMaskKey(): Uint8Array {
  sharedMaskKeys ??= new MaskKeyPool();
  return sharedMaskKeys.next();
}

/** Options of a {@link FrameWriter}. */
export interface FrameWriterOptions {
  /** Mask every frame (we are a client, RFC 6455 5.1). */
  masked: boolean;
  /** Source of masking keys; default the process's shared pool. */
  maskKeys: (() => Uint8Array) | undefined;
  /** Messages larger than this many bytes go out in several frames; 0: never. */
  fragmentSize: number;
  /** The negotiated per-message extension, or null. */
  extension: MessageTransform | null;
}

/** Builds the frames of a {@link Connection} and holds them until the transport takes them. */
export class FrameWriter {
  readonly #fragmentSize: number;
  readonly #maskKeys: (() => Uint8Array) | null;
  readonly #extension: MessageTransform | null;
  #outgoing: Uint8Array[] = [];
  #messagesSent = 0;
  #bytesSent = 0;

  constructor(options: FrameWriterOptions) {
    this.#fragmentSize = options.fragmentSize;
    this.#extension = options.extension;
    // RFC 6455 5.1: "a client MUST mask all frames that it sends to the server";
    // "A server MUST NOT mask any frames that it sends to the client."
    this.#maskKeys = options.masked ? (options.maskKeys ?? nextSharedMaskKey) : null;
  }

  /** Data messages queued so far. */
  get messagesSent(): number {
    return this.#messagesSent;
  }

  /** Payload bytes of the data messages queued so far (text as UTF-8, before compression). */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Whether there are frames to write. */
  get hasOutgoing(): boolean {
    return this.#outgoing.length > 0;
  }

  /** The frames queued since the last call, in order. */
  take(): Uint8Array[] {
    const out = this.#outgoing;
    if (out.length === 0) return out;
    this.#outgoing = [];
    return out;
  }

  /** Queues a text message. */
  text(text: string): void {
    this.#messagesSent++;
    const ext = this.#extension;
    if (ext !== null && text.length * 3 >= ext.threshold) {
      const bytes = new TextEncoder().encode(text);
      // The application's payload, before compression.
      this.#bytesSent += bytes.length;
      if (this.#encoded(Opcode.TEXT, ext.encode(bytes))) return;
      if (this.#fragmentSize > 0 && bytes.length > this.#fragmentSize) {
        this.#fragmented(Opcode.TEXT, bytes);
        return;
      }
      this.#outgoing.push(encodeFrame(Opcode.TEXT, bytes, { maskKey: this.#nextMaskKey() }));
      return;
    }
    if (this.#fragmentSize > 0 && text.length > this.#fragmentSize / 3) {
      const data = new TextEncoder().encode(text);
      this.#bytesSent += data.length;
      this.#fragmented(Opcode.TEXT, data);
      return;
    }
    const frame = encodeTextFrame(Opcode.TEXT, text, { maskKey: this.#nextMaskKey() });
    this.#bytesSent += payloadLength(frame);
    this.#outgoing.push(frame);
  }

  /** Queues a binary message (a copy of `data` is sent). */
  binary(data: Uint8Array): void {
    this.#messagesSent++;
    // The application's payload, before compression.
    this.#bytesSent += data.length;
    if (this.#extension !== null && this.#encoded(Opcode.BINARY, this.#extension.encode(data)))
      return;
    if (this.#fragmentSize > 0 && data.length > this.#fragmentSize) {
      this.#fragmented(Opcode.BINARY, data);
      return;
    }
    this.#outgoing.push(encodeFrame(Opcode.BINARY, data, { maskKey: this.#nextMaskKey() }));
  }

  /** Queues a control frame (Ping, Pong or Close); the caller checked the payload's size. */
  control(opcode: number, payload: Uint8Array): void {
    this.#outgoing.push(encodeFrame(opcode, payload, { maskKey: this.#nextMaskKey() }));
  }

  /** Queues a message the extension encoded (null: it left the message as is, nothing queued). */
  #encoded(opcode: number, encoded: Uint8Array | null): boolean {
    if (encoded === null) return false;
    if (this.#fragmentSize > 0 && encoded.length > this.#fragmentSize) {
      this.#fragmented(opcode, encoded, true);
    } else {
      this.#outgoing.push(
        encodeFrame(opcode, encoded, { rsv1: true, maskKey: this.#nextMaskKey() }),
      );
    }
    return true;
  }

  #fragmented(opcode: number, data: Uint8Array, compressed = false): void {
    const size = this.#fragmentSize;
    let op = opcode;
    for (let i = 0; i < data.length; i += size) {
      const end = Math.min(i + size, data.length);
      this.#outgoing.push(
        encodeFrame(op, data.subarray(i, end), {
          fin: end === data.length,
          // RFC 7692 6: RSV1 on the first frame of a compressed message only.
          rsv1: compressed && i === 0,
          maskKey: this.#nextMaskKey(),
        }),
      );
      op = Opcode.CONTINUATION;
    }
  }

  #nextMaskKey(): Uint8Array | null {
    return this.#maskKeys === null ? null : this.#maskKeys();
  }
}
