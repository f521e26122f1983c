/**
 * permessage-deflate (RFC 7692) on the conformance peer's side, written on
 * node:zlib directly (as ws does), not on wsstream's own code: the
 * parameters the handshake agreed on, one compressor per direction (a zlib
 * stream, reset per message where no context takeover was agreed) and an
 * inflater that carries the agreed window from message to message itself.
 */
import { constants, createDeflateRaw, inflateRawSync, type DeflateRaw } from 'node:zlib';

/**
 * Output chunk of the peer's inflater (zlib's smallest). zlib resolves a
 * back-reference inside the current output chunk without looking at its
 * window, so with small chunks every reference farther back than 64 bytes
 * must come from the window of the agreed size: a compressor that uses a
 * larger window than it agreed to fails with "invalid distance too far back".
 * The inflate runs synchronously (one native call per chunk): through a zlib
 * stream, every 64-byte chunk is a trip to the thread pool and back, which
 * made a 128 KiB message cost thousands of event-loop turns.
 */
const INFLATE_CHUNK = 64;

/** RFC 7692 7.2.1: the four octets 0x00 0x00 0xff 0xff that end a sync flush. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** What the peer's side of an agreed permessage-deflate does. */
export interface PeerDeflateParams {
  /** Window bits the peer compresses with (the other side's inflate window). */
  sendBits: number;
  /** Window bits the implementation agreed to compress with: the peer inflates with exactly this window. */
  receiveBits: number;
  /** The peer resets its compressor after every message. */
  sendReset: boolean;
  /** The implementation resets its compressor after every message. */
  receiveReset: boolean;
}

/**
 * The peer's parameters from the agreed Sec-WebSocket-Extensions value (the
 * response's), for a peer that is the `peerRole` end of the connection.
 * null when nothing was agreed.
 */
export function peerParams(
  agreed: string,
  peerRole: 'client' | 'server',
): PeerDeflateParams | null {
  if (!agreed.toLowerCase().startsWith('permessage-deflate')) return null;
  const params = new Map<string, string>();
  for (const part of agreed.split(';').slice(1)) {
    const [name, value = ''] = part.trim().split('=');
    params.set(name!.toLowerCase(), value.replace(/"/g, ''));
  }
  const mine = peerRole === 'server' ? 'server' : 'client';
  const theirs = peerRole === 'server' ? 'client' : 'server';
  const bitsOf = (bits: string | undefined): number =>
    bits === undefined || bits === '' ? 15 : Number(bits);
  return {
    sendBits: bitsOf(params.get(`${mine}_max_window_bits`)),
    receiveBits: bitsOf(params.get(`${theirs}_max_window_bits`)),
    sendReset: params.has(`${mine}_no_context_takeover`),
    receiveReset: params.has(`${theirs}_no_context_takeover`),
  };
}

function flushThrough(stream: DeflateRaw, input: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onError = (error: Error): void => {
      stream.off('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** The peer's compressor and decompressor. */
export class PeerDeflate {
  readonly params: PeerDeflateParams;
  #deflate: DeflateRaw | null = null;
  /**
   * The inflater's window between messages: the last 2^receiveBits bytes the
   * peer inflated (all of them while fewer), empty where the implementation
   * agreed to no context takeover. Handed to a fresh inflater as its preset
   * dictionary, which zlib copies into the window exactly as if it had
   * inflated those bytes itself: the state a long-lived inflater would have
   * after a sync flush (byte-aligned, between blocks).
   */
  #window: Buffer = Buffer.alloc(0);

  constructor(params: PeerDeflateParams) {
    this.params = params;
  }

  /** One message compressed, the trailing 00 00 ff ff removed (RFC 7692 7.2.1). */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    this.#deflate ??= createDeflateRaw({ windowBits: this.params.sendBits, memLevel: 8 });
    const out = await flushThrough(this.#deflate, data);
    if (this.params.sendReset) {
      this.#deflate.close();
      this.#deflate = null;
    }
    return out.subarray(0, out.length - 4);
  }

  /**
   * One message decompressed, the trailing 00 00 ff ff appended first (RFC
   * 7692 7.2.2), with exactly the agreed window and only the context the
   * agreement allows. Throws zlib's error ("invalid distance too far back")
   * for a reference beyond either.
   */
  decompress(data: Uint8Array): Uint8Array {
    const input = new Uint8Array(data.length + 4);
    input.set(data);
    input.set(TAIL, data.length);
    const windowSize = 1 << this.params.receiveBits;
    const out = inflateRawSync(input, {
      windowBits: this.params.receiveBits,
      chunkSize: INFLATE_CHUNK,
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(this.#window.length > 0 ? { dictionary: this.#window } : {}),
    });
    if (!this.params.receiveReset) {
      const history = Buffer.concat([this.#window, out]);
      this.#window = Buffer.from(history.subarray(Math.max(0, history.length - windowSize)));
    }
    return out;
  }

  /** Frees the compressor's zlib stream. */
  close(): void {
    this.#deflate?.close();
  }
}
