/**
 * Pre-compressed permessage-deflate frames for the reference server's
 * compressed download (scenario (j)), so that the server costs next to
 * nothing and the client's inflating is what is measured.
 *
 * The messages are compressed as one deflate stream with context takeover
 * (RFC 7692 7.2.1: each message flushed with Z_SYNC_FLUSH, its trailing
 * 0x00 0x00 0xff 0xff removed), window bits 15 and zlib's default level, as
 * ws's server does by default. A stream of `count` distinct messages is
 * compressed twice in a row: the first pass is what a fresh connection gets,
 * the second may refer back to the end of the first. Since a decoder's window
 * holds only the last 32 KiB of uncompressed data, which at the start of every
 * pass after the first is the same, the second pass can be replayed any number
 * of times and still decodes to the same messages.
 */
import { constants, createDeflateRaw } from 'node:zlib';
import { frame } from './wire.js';

/** The response header value the reference server answers with. */
export const DEFLATE_RESPONSE = 'permessage-deflate';

/** Frames (text, RSV1 set, unmasked) of the first pass and of every later pass. */
export interface DeflatedStream {
  first: Buffer[];
  again: Buffer[];
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Compresses `messages` twice in one stream, message by message; see the module comment. */
export async function deflatedStream(messages: readonly string[]): Promise<DeflatedStream> {
  const z = createDeflateRaw({ windowBits: 15, level: constants.Z_DEFAULT_COMPRESSION });
  const chunks: Buffer[] = [];
  z.on('data', (c: Buffer) => chunks.push(c));
  const one = async (text: string): Promise<Buffer> => {
    z.write(Buffer.from(text));
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    const out = Buffer.concat(chunks);
    chunks.length = 0;
    if (!out.subarray(-4).equals(TAIL)) throw new Error('deflate output lacks the flush marker');
    // RSV1 on the first (and only) frame of a compressed message: opcode 0x1 | 0x40.
    return frame(0x41, out.subarray(0, -4));
  };
  const first: Buffer[] = [];
  for (const m of messages) first.push(await one(m));
  const again: Buffer[] = [];
  for (const m of messages) again.push(await one(m));
  z.close();
  return { first, again };
}

/** Does a `Sec-WebSocket-Extensions` offer include permessage-deflate? */
export function offersDeflate(header: string | undefined): boolean {
  return (
    header !== undefined &&
    header.split(',').some((offer) => offer.split(';')[0]!.trim() === 'permessage-deflate')
  );
}
