/**
 * Category 12, compression: permessage-deflate (RFC 7692) agreed with
 * various parameters, then messages of 16 B to 128 KiB sent compressed by
 * the peer (whole, or fragmented in frames of 256 B to 32 KiB with RSV1 on
 * the first frame only) and echoed by the implementation, which compresses
 * the larger ones. The peer compresses and inflates with node:zlib itself
 * (conformance/deflate-peer.ts), with exactly the window and context the
 * implementation agreed to: two of every ten messages are built so that a
 * larger window, or context kept against the agreement, fails (see
 * message()). The fast suite sends 20 messages per case, the slow one 1,000.
 */
import type { Case } from '../case.js';
import { PeerDeflate, peerParams } from '../deflate-peer.js';
import { ExpectationError, type Peer } from '../peer.js';
import type { TargetOptions } from '../targets.js';
import { Op, randomBytes, randomText, sameBytes } from '../wire.js';

const SIZES = [16, 100, 1000, 4096, 20_000, 131_072];
const FRAGMENTS = [256, 1024, 4096, 32_768];
const RULE =
  'RFC 7692 6.1: "an endpoint ... MUST decompress ... the concatenation of the octets in the "Payload Data" portion of the frames" of a message whose first frame has RSV1 ("Per-Message Compressed") set';

/**
 * The 9th of every ten messages: two copies of a block of random printable
 * text 1.35 times the window `bits` the implementation agreed to compress
 * with, just beyond that window plus the peer's 64-byte inflate chunk, well
 * within twice the window less zlib's 262-byte lookahead. A compressor that
 * uses a larger window than it agreed to finds the second copy in the first,
 * a match the peer's inflater cannot follow.
 */
function farRepeat(bits: number, seed: number): Uint8Array {
  const block = randomText(Math.round(1.35 * (1 << bits)), seed);
  const data = new Uint8Array(block.length * 2);
  data.set(block);
  data.set(block, block.length);
  return data;
}

/**
 * The 10th: the last half window of the 9th, repeated up to at least 4 KiB
 * (above any compression threshold). It matches the 9th half a window back,
 * so a compressor that keeps its context where it agreed not to refers into
 * the previous message, which the peer's inflater does not have.
 */
function tailRepeat(bits: number, seed: number): Uint8Array {
  const previous = farRepeat(bits, seed);
  const tail = previous.subarray(previous.length - (1 << (bits - 1)));
  const copies = Math.max(2, Math.ceil(4096 / tail.length));
  const data = new Uint8Array(tail.length * copies);
  for (let at = 0; at < data.length; at += tail.length) data.set(tail, at);
  return data;
}

/**
 * A compressible message: JSON-like text, or bytes with repeats (all within
 * 64 bytes, which any window follows), and in every ten a pair that tells a
 * larger window or a context kept against the agreement (above).
 */
function message(i: number, bits: number): { opcode: number; data: Uint8Array } {
  if (i % 10 === 8) return { opcode: Op.BINARY, data: farRepeat(bits, i) };
  if (i % 10 === 9) return { opcode: Op.TEXT, data: tailRepeat(bits, i - 1) };
  const size = SIZES[i % SIZES.length]!;
  if (i % 2 === 0) {
    const unit = new TextEncoder().encode(`{"id":${i},"name":"item-${i % 7}","ok":true},`);
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += unit.length) data.set(unit.subarray(0, size - at), at);
    return { opcode: Op.TEXT, data };
  }
  const block = i % 4 === 1 ? randomBytes(64, i) : randomText(64, i);
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 64) data.set(block.subarray(0, size - at), at);
  return { opcode: Op.BINARY, data };
}

async function exchange(peer: Peer, count: number, fragmented: boolean): Promise<void> {
  const params = peerParams(peer.extensions, peer.under === 'server' ? 'client' : 'server');
  if (params === null)
    throw new ExpectationError(`No permessage-deflate agreed (got "${peer.extensions}")`);
  const deflate = new PeerDeflate(params);
  try {
    for (let i = 0; i < count; i++) {
      const { opcode, data } = message(i, params.receiveBits);
      const compressed = await deflate.compress(data);
      const size = fragmented ? FRAGMENTS[i % FRAGMENTS.length]! : Math.max(1, compressed.length);
      const frames: Uint8Array[] = [];
      for (let at = 0; at === 0 || at < compressed.length; at += size) {
        const end = Math.min(at + size, compressed.length);
        frames.push(
          peer.frame(at === 0 ? opcode : Op.CONT, compressed.subarray(at, end), {
            fin: end === compressed.length,
            rsv: at === 0 ? 4 : 0,
          }),
        );
      }
      await peer.send(...frames);
      const echo = await peer.readMessage(undefined, true);
      if (echo.opcode !== opcode)
        throw new ExpectationError(`Message ${i}: opcode ${echo.opcode}, expected ${opcode}`);
      const wasCompressed = echo.frames[0]!.rsv === 4;
      const got = wasCompressed ? deflate.decompress(echo.data) : echo.data;
      if (!sameBytes(got, data))
        throw new ExpectationError(`Message ${i} of ${data.length} bytes came back different`);
      if (data.length >= 4096 && !wasCompressed)
        throw new ExpectationError(`Message ${i} of ${data.length} bytes came back uncompressed`);
    }
  } finally {
    deflate.close();
  }
  await peer.closeHandshake();
}

interface Config {
  title: string;
  /** The offer our server gets (server target). */
  offer: string;
  /** The answer our client gets (client target). */
  answer: string;
  options?: TargetOptions;
}

const CONFIGS: Config[] = [
  {
    title: 'default parameters',
    offer: 'permessage-deflate; client_max_window_bits',
    answer: 'permessage-deflate',
  },
  {
    title: 'window bits 9 both ways',
    offer: 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9',
    answer: 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9',
  },
  {
    title: 'window bits 15 both ways',
    offer: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    answer: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    options: { perMessageDeflate: { serverMaxWindowBits: 15, clientMaxWindowBits: 15 } },
  },
  {
    title: 'server_no_context_takeover',
    offer: 'permessage-deflate; server_no_context_takeover',
    answer: 'permessage-deflate; server_no_context_takeover',
  },
  {
    title: 'client_no_context_takeover',
    offer: 'permessage-deflate; client_no_context_takeover',
    answer: 'permessage-deflate; client_no_context_takeover',
  },
  {
    title: 'no context takeover both ways',
    offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    answer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  },
];

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const slow of [false, true]) {
    const count = slow ? 1000 : 20;
    for (const config of CONFIGS) {
      for (const fragmented of [false, true]) {
        const id = ++n;
        for (const under of ['client', 'server'] as const) {
          out.push({
            id: `12.${id}.${under === 'client' ? 1 : 2}`,
            title: `${config.title}: ${count} messages of 16 B to 128 KiB${fragmented ? ', fragmented in frames of 256 B to 32 KiB' : ''}`,
            rule: RULE,
            expected: 'every message echoed intact, those of 4 KiB and more compressed',
            options: {
              ...config.options,
              peerExtensions: under === 'client' ? config.answer : config.offer,
            },
            targets: [under],
            slow,
            timeout: slow ? 120_000 : 15_000,
            run: (peer) => exchange(peer, count, fragmented),
          });
        }
      }
    }
  }
  // Several offers in one header: the server takes the first it accepts.
  out.push({
    id: `12.${++n}.2`,
    title: 'several offers, the first with an unknown parameter: the second is taken',
    rule: 'RFC 7692 5: the server "accepts ... by ... choosing one of the offers" in order; an offer with an unknown parameter is declined',
    expected: 'server_max_window_bits=10 agreed, messages echoed',
    options: {
      peerExtensions:
        'permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=10, permessage-deflate',
    },
    targets: ['server'],
    async run(peer) {
      if (!/server_max_window_bits=10/.test(peer.extensions))
        throw new ExpectationError(`Agreed "${peer.extensions}", expected the second offer`);
      await exchange(peer, 20, false);
    },
  });
  return out;
}

export const compressionCases: Case[] = cases();
