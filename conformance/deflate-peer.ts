/**
 * permessage-deflate (RFC 7692) on the conformance peer's side, written on
 * node:zlib's streams directly (as ws does), not on wsstream's own code: the
 * parameters the handshake agreed on, and one compressor and decompressor per
 * direction, reset per message where no context takeover was agreed.
 */
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';

/**
 * Output chunk of the peer's inflater. zlib resolves a back-reference inside
 * the current output chunk without looking at its window, so with small
 * chunks every reference farther back than 64 bytes must come from the
 * window of the agreed size: a compressor that uses a larger window than it
 * agreed to fails with "invalid distance too far back".
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

function flushThrough(stream: DeflateRaw | InflateRaw, input: Uint8Array): Promise<Uint8Array> {
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
  #inflate: InflateRaw | null = null;

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

  /** One message decompressed, the trailing 00 00 ff ff appended first (RFC 7692 7.2.2). */
  async decompress(data: Uint8Array): Promise<Uint8Array> {
    this.#inflate ??= createInflateRaw({
      windowBits: this.params.receiveBits,
      chunkSize: INFLATE_CHUNK,
    });
    const input = new Uint8Array(data.length + 4);
    input.set(data);
    input.set(TAIL, data.length);
    const out = await flushThrough(this.#inflate, input);
    if (this.params.receiveReset) {
      this.#inflate.close();
      this.#inflate = null;
    }
    return out;
  }

  /** Frees the zlib streams. */
  close(): void {
    this.#deflate?.close();
    this.#inflate?.close();
  }
}
