/**
 * The scripted peer: one raw TCP connection to (or from) the implementation
 * under test, written byte by byte by a case and read back frame by frame.
 * Every expectation is checked on the wire: the frames the implementation
 * sends, and whether it closed the TCP connection.
 */
import type { Socket } from 'node:net';
import {
  closeCodeOf,
  closePayload,
  describe,
  Op,
  sameBytes,
  utf8,
  WireReader,
  writeFrame,
  type FrameSpec,
  type WireFrame,
} from './wire.js';

/** Which implementation is under test: our client (the peer is a server) or our server (the peer is a client). */
export type Under = 'client' | 'server';

/** How the application under test saw the connection end. */
export type Outcome =
  | { clean: true; code: number; reason: string }
  | { clean: false; code: number | null; message: string };

/** What the implementation's `opened` gave: the agreed `extensions`, or its rejection. */
export type Opened = { extensions: string } | { error: unknown };

/** A failed expectation: the implementation did not do what the case requires. */
export class ExpectationError extends Error {
  override readonly name = 'ExpectationError';
}

/** Default milliseconds a peer waits for the implementation before the case fails. */
export const DEFAULT_WAIT = 5_000;

const MASK = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/** Frame options of the peer's helpers. */
export type SendOptions = Partial<Omit<FrameSpec, 'opcode' | 'payload'>>;

export class Peer {
  readonly socket: Socket;
  readonly under: Under;
  readonly reader = new WireReader();
  /** The outcome the application under test observed (its `closed` promise). */
  readonly outcome: Promise<Outcome>;
  /** The implementation half-closed (TCP FIN). */
  ended = false;
  /** The TCP connection is fully closed. */
  closed = false;
  /** The Sec-WebSocket-Extensions the handshake agreed on ('' for none). */
  extensions = '';
  /**
   * The Sec-WebSocket-Extensions field lines of the handshake response, in
   * order: those our server sent, or those the peer sent our client.
   */
  extensionLines: string[] = [];
  /** What the implementation's `opened` gave (set by conformance/targets.ts). */
  opened: Promise<Opened> = Promise.resolve({ extensions: '' });
  /** A socket error seen by the peer (a reset, a write after close). */
  error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(socket: Socket, under: Under, outcome: Promise<Outcome>, initial?: Uint8Array) {
    this.socket = socket;
    this.under = under;
    this.outcome = outcome;
    if (initial !== undefined) this.reader.push(initial);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.#notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#notify();
    });
    socket.on('error', (error) => {
      this.error ??= error;
      this.#notify();
    });
  }

  /** Whether the peer masks its frames (it is the client: our server is under test). */
  get masks(): boolean {
    return this.under === 'server';
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Waits until `ready()` holds, re-checking on every socket event. */
  async #until<T>(ready: () => T | null, what: string, timeout: number): Promise<T> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = ready();
      if (value !== null) return value;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ExpectationError(`Timed out after ${timeout} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  // ---- writing -------------------------------------------------------------

  /** A frame in the peer's direction: masked when the peer is a client, unless `options.mask` says otherwise. */
  frame(opcode: number, payload: Uint8Array | string = '', options: SendOptions = {}): Uint8Array {
    return writeFrame({
      mask: this.masks ? MASK : null,
      ...options,
      opcode,
      payload: typeof payload === 'string' ? utf8(payload) : payload,
    });
  }

  /** A Close frame with `code` and `reason` (raw bytes allowed, for invalid reasons). */
  closeFrame(code?: number, reason: Uint8Array | string = ''): Uint8Array {
    return this.frame(
      Op.CLOSE,
      code === undefined ? new Uint8Array(0) : closePayload(code, reason),
    );
  }

  /** Writes `chunks` as they are and waits until the operating system took them. Write errors are recorded, not thrown. */
  async send(...chunks: Uint8Array[]): Promise<void> {
    for (const chunk of chunks) await this.#write(chunk);
  }

  #write(chunk: Uint8Array): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.socket.destroyed || this.socket.writableEnded) {
        resolve();
        return;
      }
      this.socket.write(chunk, (error) => {
        if (error !== null && error !== undefined) this.error ??= error;
        resolve();
      });
    });
  }

  /**
   * Writes `data` in pieces of `chop` bytes, each in its own TCP segment
   * (Nagle is off) and after a turn of the event loop, so the implementation
   * reads them one at a time.
   */
  async sendChopped(data: Uint8Array, chop: number): Promise<void> {
    for (let i = 0; i < data.length; i += chop) {
      if (this.socket.destroyed) return;
      await this.#write(data.subarray(i, Math.min(i + chop, data.length)));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  // ---- reading -------------------------------------------------------------

  /** The next frame the implementation sends. Fails if the connection closes first. */
  async read(timeout = DEFAULT_WAIT): Promise<WireFrame> {
    return this.#until(
      () => {
        const frame = this.reader.next();
        if (frame !== null) return frame;
        if (this.ended || this.closed) {
          throw new ExpectationError(
            `The implementation closed the connection instead of sending a frame${this.error ? ` (${this.error.message})` : ''}`,
          );
        }
        return null;
      },
      'a frame',
      timeout,
    );
  }

  /** Reads one whole message (reassembling fragments); control frames in between fail the expectation. */
  async readMessage(
    timeout = DEFAULT_WAIT,
    allowRsv1 = false,
  ): Promise<{ opcode: number; data: Uint8Array; frames: WireFrame[] }> {
    const frames: WireFrame[] = [];
    for (;;) {
      const f = await this.read(timeout);
      if (f.opcode === Op.CLOSE) {
        throw new ExpectationError(
          `Expected a message, got Close ${closeCodeOf(f.payload)} ${JSON.stringify(Buffer.from(f.payload.subarray(2)).toString())}`,
        );
      }
      if (f.opcode >= 8)
        throw new ExpectationError(
          `Expected a message, got control frame 0x${f.opcode.toString(16)}`,
        );
      if (frames.length === 0 && f.opcode === Op.CONT)
        throw new ExpectationError(
          'The implementation sent a continuation frame with no message to continue',
        );
      if (frames.length > 0 && f.opcode !== Op.CONT)
        throw new ExpectationError(
          'The implementation interleaved a new message inside a fragmented one',
        );
      // RFC 7692 6: with permessage-deflate, RSV1 may mark the first frame of a message.
      if (f.rsv !== 0 && !(allowRsv1 && f.rsv === 4 && frames.length === 0))
        throw new ExpectationError(`The implementation set reserved bits ${f.rsv}`);
      if (f.masked === this.masks)
        throw new ExpectationError(
          this.masks
            ? 'The server masked a frame (RFC 6455 5.1)'
            : 'The client sent an unmasked frame (RFC 6455 5.3)',
        );
      frames.push(f);
      if (f.fin) break;
    }
    let size = 0;
    for (const f of frames) size += f.payload.length;
    const data = new Uint8Array(size);
    let at = 0;
    for (const f of frames) {
      data.set(f.payload, at);
      at += f.payload.length;
    }
    return { opcode: frames[0]!.opcode, data, frames };
  }

  /** Expects the implementation to echo a message of `opcode` with exactly `data`. */
  async expectEcho(
    opcode: number,
    data: Uint8Array | string,
    timeout = DEFAULT_WAIT,
  ): Promise<void> {
    const expected = typeof data === 'string' ? utf8(data) : data;
    const m = await this.readMessage(timeout);
    if (m.opcode !== opcode)
      throw new ExpectationError(
        `Expected opcode ${opcode}, got ${m.opcode} (${describe(m.data)})`,
      );
    if (!sameBytes(m.data, expected))
      throw new ExpectationError(
        `Echo differs: expected ${describe(expected)}, got ${describe(m.data)}`,
      );
  }

  /** Expects a Pong carrying `data` (RFC 6455 5.5.3: "identical Application data"). */
  async expectPong(data: Uint8Array | string = '', timeout = DEFAULT_WAIT): Promise<void> {
    const expected = typeof data === 'string' ? utf8(data) : data;
    const f = await this.read(timeout);
    if (f.opcode !== Op.PONG)
      throw new ExpectationError(
        `Expected a Pong, got opcode 0x${f.opcode.toString(16)} (${describe(f.payload)})`,
      );
    if (!sameBytes(f.payload, expected))
      throw new ExpectationError(
        `Pong payload differs: expected ${describe(expected)}, got ${describe(f.payload)}`,
      );
  }

  /** Expects a Close frame with `code` (1005 = no body). Returns its reason bytes. */
  async expectClose(code: number, timeout = DEFAULT_WAIT): Promise<Uint8Array> {
    const f = await this.read(timeout);
    if (f.opcode !== Op.CLOSE) {
      throw new ExpectationError(
        `Expected Close ${code}, got opcode 0x${f.opcode.toString(16)} (${describe(f.payload)})`,
      );
    }
    const got = closeCodeOf(f.payload);
    if (got !== code) {
      throw new ExpectationError(
        `Expected Close ${code}, got Close ${got} ${JSON.stringify(Buffer.from(f.payload.subarray(2)).toString())}`,
      );
    }
    return f.payload.subarray(2);
  }

  /**
   * Expects the implementation to close the TCP connection (FIN or reset)
   * without sending any further frame.
   */
  async expectTcpClose(timeout = DEFAULT_WAIT): Promise<void> {
    await this.#until(
      () => {
        if (this.reader.buffered > 0) {
          const f = this.reader.next();
          throw new ExpectationError(
            `Expected the connection to close, got ${f === null ? 'bytes' : `a frame with opcode 0x${f.opcode.toString(16)}`}`,
          );
        }
        return this.ended || this.closed ? true : null;
      },
      'the implementation to close the TCP connection',
      timeout,
    );
  }

  /** Expects that nothing arrives for `ms` milliseconds and the connection stays open. */
  async expectSilence(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.reader.buffered > 0) {
      const f = this.reader.next();
      throw new ExpectationError(
        `Expected nothing, got ${f === null ? 'bytes' : `a frame with opcode 0x${f.opcode.toString(16)}`}`,
      );
    }
    if (this.ended || this.closed)
      throw new ExpectationError('Expected the connection to stay open');
  }

  // ---- outcomes ------------------------------------------------------------

  /**
   * The clean closing handshake, started by the peer: send Close `code`,
   * expect the same code echoed, then the TCP close (RFC 6455 7.1.1: the
   * server closes first, so a peer acting as server ends its side first).
   */
  async closeHandshake(code = 1000, reason = ''): Promise<void> {
    await this.send(this.closeFrame(code, reason));
    await this.expectCloseEcho(code);
  }

  /** After the peer's Close: the echo with `code`, then the TCP close, and a clean outcome. */
  async expectCloseEcho(code: number, timeout = DEFAULT_WAIT): Promise<void> {
    await this.expectClose(code, timeout);
    if (this.under === 'client') this.socket.end();
    await this.expectTcpClose(timeout);
    await this.expectOutcome({ clean: true, code: code === 0 ? 1005 : code });
  }

  /**
   * The implementation must fail the connection: a Close frame with `code`
   * (RFC 6455 7.1.7 "SHOULD send a Close frame with an appropriate status
   * code"), then the TCP close, and the application sees an unclean close
   * with that code.
   */
  async expectFail(code: number, timeout = DEFAULT_WAIT): Promise<void> {
    await this.expectClose(code, timeout);
    await this.expectTcpClose(timeout);
    await this.expectOutcome({ clean: false, code });
  }

  /** Checks what the application under test saw. */
  async expectOutcome(
    expected: { clean: boolean; code?: number | null },
    timeout = DEFAULT_WAIT,
  ): Promise<Outcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      this.outcome,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeout);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === null)
      throw new ExpectationError(`The application saw no outcome within ${timeout} ms`);
    if (
      outcome.clean !== expected.clean ||
      (expected.code !== undefined && outcome.code !== expected.code)
    ) {
      throw new ExpectationError(
        `Expected a${expected.clean ? ' clean' : 'n unclean'} close${expected.code !== undefined ? ` with ${expected.code}` : ''}, the application saw ${JSON.stringify(outcome)}`,
      );
    }
    return outcome;
  }

  /** Drops the connection (cleanup). */
  destroy(): void {
    this.socket.destroy();
  }
}
