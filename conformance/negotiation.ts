/**
 * The checks the negotiation cases of category 12 share: the answer as it
 * went over the wire, messages that flow compressed with exactly the agreed
 * windows, messages that flow uncompressed when nothing was agreed, and a
 * client that refuses an answer without anything escaping the handshake.
 */
import { PeerDeflate, peerParams } from './deflate-peer.js';
import { ExpectationError, type Peer } from './peer.js';
import { Op, sameBytes } from './wire.js';
import { WebSocketError } from '../src/streams/websocket-error.js';

/** A 16-letter alphabet: half a byte of entropy per byte, so every message compresses. */
const LETTERS = 'abcdefghijklmnop';

/** `size` letters from a seeded generator (the same seed gives the same text). */
function letters(size: number, seed: number): string {
  let x = seed * 2654435761 + 1;
  let out = '';
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += LETTERS[(x >>> 16) & 15];
  }
  return out;
}

/**
 * Block sizes just beyond each window from 9 to 14 bits (above 2^bits plus
 * the peer's 64-byte inflate chunk, below 2^(bits+1) minus zlib's 262-byte
 * lookahead): a message of two equal blocks gives a compressor that uses a
 * larger window than it agreed to a match the peer's inflater cannot follow.
 */
const BLOCKS = [700, 1400, 2800, 5600, 11_000, 22_000];

/**
 * Sends messages compressed by the peer with the window it agreed to and
 * expects each echoed compressed, in fewer bytes than its payload, and
 * inflated by the peer with exactly the window the implementation agreed to
 * (conformance/deflate-peer.ts). Two rounds of the same messages, so context
 * takeover (or its absence) is exercised. Ends with a clean close.
 */
export async function expectCompressedFlow(peer: Peer): Promise<void> {
  const params = peerParams(peer.extensions, peer.under === 'server' ? 'client' : 'server');
  if (params === null)
    throw new ExpectationError(`No permessage-deflate agreed (got "${peer.extensions}")`);
  const deflate = new PeerDeflate(params);
  try {
    for (let round = 0; round < 2; round++) {
      for (const [i, size] of BLOCKS.entries()) {
        const block = letters(size, size);
        const opcode = i % 2 === 0 ? Op.TEXT : Op.BINARY;
        const data = new TextEncoder().encode(block + block);
        const compressed = await deflate.compress(data);
        await peer.send(peer.frame(opcode, compressed, { rsv: 4 }));
        const echo = await peer.readMessage(undefined, true);
        const what = `Message of ${data.length} bytes (round ${round + 1})`;
        if (echo.opcode !== opcode)
          throw new ExpectationError(`${what}: opcode ${echo.opcode}, expected ${opcode}`);
        if (echo.frames[0]!.rsv !== 4) throw new ExpectationError(`${what} came back uncompressed`);
        if (echo.data.length >= data.length)
          throw new ExpectationError(
            `${what} came back in ${echo.data.length} compressed bytes, no fewer than its payload`,
          );
        let got: Uint8Array;
        try {
          got = deflate.decompress(echo.data);
        } catch (error) {
          throw new ExpectationError(
            `${what} does not inflate with the agreed window of ${params.receiveBits} bits: ${(error as Error).message}`,
          );
        }
        if (!sameBytes(got, data)) throw new ExpectationError(`${what} came back different`);
      }
    }
  } finally {
    deflate.close();
  }
  await peer.closeHandshake();
}

/**
 * Nothing was agreed: a compressible message of 4 KiB (above the
 * compression threshold) comes back with RSV1 clear, and RSV1 then fails the
 * connection with 1002 (RFC 6455 5.2: a nonzero reserved bit without an
 * extension that defines it).
 */
export async function expectUncompressedFlow(peer: Peer): Promise<void> {
  const text = letters(4096, 4096);
  await peer.send(peer.frame(Op.TEXT, text));
  await peer.expectEcho(Op.TEXT, text);
  await peer.send(peer.frame(Op.TEXT, 'compressed?', { rsv: 4 }));
  await peer.expectFail(1002);
}

/**
 * The answer: exactly `expected` in one Sec-WebSocket-Extensions field line
 * (null: no such line at all), and the same value in `extensions` of the
 * implementation's `opened`.
 */
export async function expectAgreed(peer: Peer, expected: string | null): Promise<void> {
  const lines = peer.extensionLines;
  const want = expected === null ? [] : [expected];
  if (JSON.stringify(lines) !== JSON.stringify(want))
    throw new ExpectationError(
      `Sec-WebSocket-Extensions lines ${JSON.stringify(lines)}, expected ${JSON.stringify(want)}`,
    );
  const opened = await peer.opened;
  if ('error' in opened)
    throw new ExpectationError(`opened rejected: ${(opened.error as Error)?.message}`);
  if (opened.extensions !== (expected ?? ''))
    throw new ExpectationError(
      `opened gave extensions "${opened.extensions}", expected "${expected ?? ''}"`,
    );
}

/**
 * Our client refuses the answer: `opened` and `closed` reject with a
 * WebSocketError (1006) whose message contains every string of `names` (the
 * parameter at fault), the client drops TCP without sending a frame, and no
 * rejection or exception escapes to the process meanwhile.
 */
export async function expectAnswerRefused(peer: Peer, names: readonly string[]): Promise<void> {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  try {
    const opened = await peer.opened;
    if (!('error' in opened))
      throw new ExpectationError(`opened resolved with extensions "${opened.extensions}"`);
    const error = opened.error;
    if (!(error instanceof WebSocketError))
      throw new ExpectationError(`opened rejected with ${String(error)}, not a WebSocketError`);
    for (const name of names) {
      if (!error.message.includes(name))
        throw new ExpectationError(`The error does not name ${name}: "${error.message}"`);
    }
    const outcome = await peer.expectOutcome({ clean: false, code: 1006 });
    if (outcome.clean || outcome.message !== error.message)
      throw new ExpectationError(
        `closed rejected otherwise than opened: ${JSON.stringify(outcome)}`,
      );
    await peer.expectTcpClose();
    // Let any rejection nobody handled surface before looking.
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (escaped.length > 0)
      throw new ExpectationError(`Escaped the handshake: ${String(escaped[0])}`);
  } finally {
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
  }
}
