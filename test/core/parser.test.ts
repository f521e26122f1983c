import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, type FrameHandler } from '../../src/core/parser.js';
import { ProtocolError } from '../../src/core/errors.js';
import type { FrameHeader } from '../../src/core/frame.js';
import {
  assertBytes,
  chunksOf,
  concat,
  cutAt,
  everyPairOfSplits,
  everySplit,
  FrameRecorder,
  KEY,
  largeFrameSplits,
  parseChunks,
  patternBytes,
  rawFrame,
  rawHeader64,
  sameBytes,
} from './helpers.js';

const KINDS = [
  { name: 'text', opcode: 0x1, control: false },
  { name: 'binary', opcode: 0x2, control: false },
  { name: 'continuation', opcode: 0x0, control: false },
  { name: 'close', opcode: 0x8, control: true },
  { name: 'ping', opcode: 0x9, control: true },
  { name: 'pong', opcode: 0xa, control: true },
] as const;

const SMALL_LENGTHS = [0, 1, 125, 126, 127];
const LARGE_LENGTHS = [65535, 65536, 300_000];
const SIDES = [
  { name: 'server parser, masked frame', expectMasked: true, mask: KEY },
  { name: 'client parser, unmasked frame', expectMasked: false, mask: null },
] as const;

function headerLengthOf(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

interface Expected {
  opcode: number;
  fin: boolean;
  masked: boolean;
  length: number;
  maskKey: Uint8Array | null;
  payload: Uint8Array;
}

function assertOneFrame(rec: FrameRecorder, expected: Expected, where: () => string): void {
  const f = rec.frames[0];
  // Cheap checks first; build the message only on failure (this runs for thousands of splits).
  if (
    rec.error === null &&
    rec.frames.length === 1 &&
    f !== undefined &&
    f.opcode === expected.opcode &&
    f.fin === expected.fin &&
    !f.rsv1 &&
    !f.rsv2 &&
    !f.rsv3 &&
    f.masked === expected.masked &&
    f.length === expected.length &&
    (expected.maskKey === null || sameBytes(f.maskKey!, expected.maskKey)) &&
    sameBytes(f.payload, expected.payload)
  ) {
    return;
  }
  const w = where();
  assert.equal(rec.error, null, `${w}: unexpected error ${rec.error?.message}`);
  assert.equal(rec.frames.length, 1, `${w}: frame count`);
  const { payload, maskKey, ...header } = expected;
  assert.deepEqual(
    { opcode: f!.opcode, fin: f!.fin, masked: f!.masked, length: f!.length },
    header,
    `${w}: header`,
  );
  assert.deepEqual([f!.rsv1, f!.rsv2, f!.rsv3], [false, false, false], `${w}: rsv`);
  if (maskKey !== null) assertBytes(f!.maskKey!, maskKey, `${w}: mask key`);
  assertBytes(f!.payload, payload, `${w}: payload`);
}

describe('FrameParser: every frame kind, split at every byte', () => {
  for (const side of SIDES) {
    for (const kind of KINDS) {
      const lengths = kind.control ? [0, 1, 125] : [...SMALL_LENGTHS, ...LARGE_LENGTHS];
      for (const length of lengths) {
        const fins = kind.control ? [true] : [true, false];
        for (const fin of fins) {
          const small = length <= 127;
          test(`${side.name}: ${kind.name} frame, fin=${fin}, ${length} bytes, ${small ? 'every pair of split points' : 'sampled split points and 1-byte header chunks'}`, () => {
            const payload = patternBytes(length);
            const bytes = rawFrame({ opcode: kind.opcode, payload, fin, mask: side.mask });
            const expected = {
              opcode: kind.opcode,
              fin,
              masked: side.mask !== null,
              length,
              maskKey: side.mask,
              payload,
            };
            const splits = small
              ? everyPairOfSplits(bytes)
              : largeFrameSplits(bytes, headerLengthOf(length, side.mask !== null));
            let count = 0;
            for (const chunks of splits) {
              const rec = parseChunks(chunks, { expectMasked: side.expectMasked });
              assertOneFrame(
                rec,
                expected,
                () => `chunks ${chunks.map((c) => c.length).join('+')}`,
              );
              count++;
            }
            if (small) {
              assertOneFrame(
                parseChunks(chunksOf(bytes, 1), { expectMasked: side.expectMasked }),
                expected,
                () => '1-byte chunks',
              );
              const n = bytes.length + 1;
              assert.equal(count, (n * (n + 1)) / 2);
            } else {
              assert.ok(count > 30);
            }
          });
        }
      }
    }
  }
});

describe('FrameParser: several frames in one stream', () => {
  const textStart = patternBytes(40);
  const ping = Uint8Array.of(1, 2, 3);
  const textEnd = patternBytes(130);
  for (const side of SIDES) {
    const stream = concat(
      rawFrame({ opcode: 0x1, payload: textStart, fin: false, mask: side.mask }),
      rawFrame({ opcode: 0x9, payload: ping, mask: side.mask }),
      rawFrame({ opcode: 0x0, payload: new Uint8Array(0), fin: false, mask: side.mask }),
      rawFrame({ opcode: 0x0, payload: textEnd, mask: side.mask }),
      rawFrame({ opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8), mask: side.mask }),
    );
    test(`${side.name}: fragment, ping, empty continuation, last fragment, close: the same frames at every pair of split points`, () => {
      for (const chunks of everyPairOfSplits(stream)) {
        const rec = parseChunks(chunks, { expectMasked: side.expectMasked });
        assert.equal(rec.error, null);
        assert.deepEqual(
          rec.frames.map((f) => [f.opcode, f.fin, f.length]),
          [
            [0x1, false, 40],
            [0x9, true, 3],
            [0x0, false, 0],
            [0x0, true, 130],
            [0x8, true, 2],
          ],
        );
        assertBytes(rec.frames[0]!.payload, textStart);
        assertBytes(rec.frames[1]!.payload, ping);
        assertBytes(rec.frames[3]!.payload, textEnd);
        assertBytes(rec.frames[4]!.payload, Uint8Array.of(0x03, 0xe8));
      }
    });
  }

  test('frames are reported start, payload..., end, in order, with empty frames giving start then end', () => {
    const stream = concat(
      rawFrame({ opcode: 0x2, payload: patternBytes(10) }),
      rawFrame({ opcode: 0x9 }),
    );
    const rec = parseChunks(cutAt(stream, [5]), { expectMasked: false });
    assert.deepEqual(rec.calls, ['start', 'payload', 'payload', 'end', 'start', 'end']);
  });

  test('a frame start is reported as soon as the header is complete, before any payload', () => {
    const parser = new FrameParser({ expectMasked: true });
    const rec = new FrameRecorder();
    const bytes = rawFrame({ opcode: 0x2, payload: patternBytes(300), mask: KEY });
    assert.equal(parser.parse(bytes.subarray(0, 8), rec), 8);
    assert.deepEqual(rec.calls, ['start']);
    assert.equal(parser.atFrameBoundary, false);
    parser.parse(bytes.subarray(8), rec);
    assert.deepEqual(rec.calls, ['start', 'payload', 'end']);
    assert.equal(parser.atFrameBoundary, true);
  });

  test('atFrameBoundary is false while a header is half received', () => {
    const parser = new FrameParser({ expectMasked: false });
    const rec = new FrameRecorder();
    assert.equal(parser.atFrameBoundary, true);
    parser.parse(Uint8Array.of(0x82), rec);
    assert.equal(parser.atFrameBoundary, false);
    parser.parse(Uint8Array.of(0x00), rec);
    assert.equal(parser.atFrameBoundary, true);
    assert.equal(rec.frames.length, 1);
  });
});

describe('FrameParser: lengths', () => {
  test('non-minimal length encodings are accepted (RFC 6455 5.2 binds the sender only)', () => {
    const payload = patternBytes(5);
    for (const lengthForm of [16, 64] as const) {
      const bytes = rawFrame({ opcode: 0x2, payload, lengthForm });
      for (const chunks of everySplit(bytes)) {
        const rec = parseChunks(chunks, { expectMasked: false });
        assert.equal(rec.error, null);
        assertBytes(rec.frames[0]!.payload, payload);
      }
    }
  });

  test('a 64-bit length up to 2^53 - 1 is reported exactly', () => {
    for (const [hi, lo, length] of [
      [0, 2 ** 32 - 1, 2 ** 32 - 1],
      [1, 0, 2 ** 32],
      [0x100, 0, 2 ** 40],
      [0x1fffff, 0xffffffff, Number.MAX_SAFE_INTEGER],
    ] as const) {
      for (const chunks of everySplit(rawHeader64(0x2, hi, lo, null))) {
        const parser = new FrameParser({ expectMasked: false });
        const seen: number[] = [];
        const handler: FrameHandler = {
          frameStart: (h) => (seen.push(h.length), true),
          framePayload: () => assert.fail('no payload was sent'),
          frameEnd: () => assert.fail('no payload was sent'),
          frameError: (e) => assert.fail(e),
        };
        for (const c of chunks) parser.parse(c, handler);
        assert.deepEqual(seen, [length]);
      }
    }
  });

  test('a 64-bit length with the most significant bit set: INVALID_LENGTH, at every split', () => {
    const header = rawHeader64(0x2, 0x80000000, 0, null);
    for (const chunks of everySplit(header)) {
      const rec = parseChunks(chunks, { expectMasked: false });
      assert.equal(rec.error?.code, 'INVALID_LENGTH');
      assert.equal(rec.error.closeCode, 1002);
      assert.deepEqual(rec.calls, ['error']);
    }
  });

  test('a 64-bit length of 2^53 or more: MESSAGE_TOO_BIG (1009), at every split', () => {
    for (const [hi, lo] of [
      [0x200000, 0],
      [0x7fffffff, 0xffffffff],
    ] as const) {
      const header = rawHeader64(0x2, hi, lo, null);
      for (const chunks of everySplit(header)) {
        const rec = parseChunks(chunks, { expectMasked: false });
        assert.equal(rec.error?.code, 'MESSAGE_TOO_BIG');
        assert.equal(rec.error.closeCode, 1009);
      }
    }
  });
});

describe('FrameParser: frame-level violations', () => {
  const cases: Array<{ name: string; bytes: Uint8Array; expectMasked: boolean; code: string }> = [
    {
      name: 'RSV1 set without extension',
      bytes: rawFrame({ opcode: 0x1, rsv1: true }),
      expectMasked: false,
      code: 'RESERVED_BITS',
    },
    {
      name: 'RSV2 set',
      bytes: rawFrame({ opcode: 0x2, rsv2: true }),
      expectMasked: false,
      code: 'RESERVED_BITS',
    },
    {
      name: 'RSV3 set',
      bytes: rawFrame({ opcode: 0x2, rsv3: true }),
      expectMasked: false,
      code: 'RESERVED_BITS',
    },
    ...[3, 4, 5, 6, 7, 11, 12, 13, 14, 15].map((opcode) => ({
      name: `reserved opcode ${opcode}`,
      bytes: rawFrame({ opcode }),
      expectMasked: false,
      code: 'RESERVED_OPCODE',
    })),
    ...[0x8, 0x9, 0xa].map((opcode) => ({
      name: `control frame 0x${opcode.toString(16)} of 126 bytes`,
      bytes: rawFrame({ opcode, payload: patternBytes(126) }),
      expectMasked: false,
      code: 'CONTROL_FRAME_TOO_LONG',
    })),
    {
      name: 'ping of 127 bytes (64-bit length form)',
      bytes: rawFrame({ opcode: 0x9, payload: patternBytes(127) }),
      expectMasked: false,
      code: 'CONTROL_FRAME_TOO_LONG',
    },
    {
      name: 'ping of 5 bytes in the 16-bit length form (7-bit field 126)',
      bytes: rawFrame({ opcode: 0x9, payload: patternBytes(5), lengthForm: 16 }),
      expectMasked: false,
      code: 'CONTROL_FRAME_TOO_LONG',
    },
    ...[0x8, 0x9, 0xa].map((opcode) => ({
      name: `fragmented control frame 0x${opcode.toString(16)}`,
      bytes: rawFrame({ opcode, fin: false }),
      expectMasked: false,
      code: 'CONTROL_FRAME_FRAGMENTED',
    })),
    {
      name: 'server receives an unmasked frame',
      bytes: rawFrame({ opcode: 0x1, payload: patternBytes(3) }),
      expectMasked: true,
      code: 'UNMASKED_FRAME',
    },
    {
      name: 'client receives a masked frame',
      bytes: rawFrame({ opcode: 0x1, payload: patternBytes(3), mask: KEY }),
      expectMasked: false,
      code: 'MASKED_FRAME',
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.code}, detected from the first header bytes at every split`, () => {
      for (const chunks of everySplit(c.bytes)) {
        const rec = parseChunks(chunks, { expectMasked: c.expectMasked });
        assert.ok(rec.error instanceof ProtocolError);
        assert.equal(rec.error.code, c.code);
        assert.equal(rec.error.closeCode, 1002);
        assert.deepEqual(rec.calls, ['error']);
      }
      // The first two bytes are enough to decide.
      const parser = new FrameParser({ expectMasked: c.expectMasked });
      const rec = new FrameRecorder();
      parser.parse(c.bytes.subarray(0, 2), rec);
      assert.equal(rec.error?.code, c.code);
      assert.equal(parser.stopped, true);
    });
  }

  test('RSV1 on a data frame is accepted when an extension allows it', () => {
    const bytes = rawFrame({ opcode: 0x1, rsv1: true, payload: patternBytes(4), mask: KEY });
    const rec = parseChunks([bytes], { expectMasked: true, allowRsv1: true });
    assert.equal(rec.error, null);
    assert.equal(rec.frames[0]!.rsv1, true);
  });

  test('RSV1 on a control frame fails even when an extension allows RSV1 (RFC 7692 6.1)', () => {
    const rec = parseChunks([rawFrame({ opcode: 0x9, rsv1: true })], {
      expectMasked: false,
      allowRsv1: true,
    });
    assert.equal(rec.error?.code, 'RESERVED_BITS');
  });

  test('RSV2 and RSV3 fail even when an extension allows RSV1', () => {
    for (const bits of [{ rsv2: true }, { rsv3: true }]) {
      const rec = parseChunks([rawFrame({ opcode: 0x2, ...bits })], {
        expectMasked: false,
        allowRsv1: true,
      });
      assert.equal(rec.error?.code, 'RESERVED_BITS');
    }
  });

  test('after an error the parser is stopped: it consumes nothing more and reports nothing', () => {
    const parser = new FrameParser({ expectMasked: false });
    const rec = new FrameRecorder();
    const good = rawFrame({ opcode: 0x2, payload: patternBytes(3) });
    const bad = rawFrame({ opcode: 0x3 });
    const consumed = parser.parse(concat(good, bad, good), rec);
    assert.equal(consumed, good.length + 2);
    assert.equal(rec.frames.length, 1);
    assert.equal(rec.error?.code, 'RESERVED_OPCODE');
    assert.equal(parser.stopped, true);
    assert.equal(parser.parse(good, rec), 0);
    assert.equal(rec.frames.length, 1);
  });
});

describe('FrameParser: the handler stops parsing', () => {
  const frame = rawFrame({ opcode: 0x2, payload: patternBytes(10) });
  const stream = concat(frame, frame);

  function stopper(at: 'start' | 'payload' | 'end'): FrameHandler & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      frameStart: (_h: FrameHeader) => (calls.push('start'), at !== 'start'),
      framePayload: () => (calls.push('payload'), at !== 'payload'),
      frameEnd: () => (calls.push('end'), at !== 'end'),
      frameError: () => calls.push('error'),
    };
  }

  test('frameStart returning false: consumed up to the end of the header', () => {
    const parser = new FrameParser({ expectMasked: false });
    const h = stopper('start');
    assert.equal(parser.parse(stream, h), 2);
    assert.deepEqual(h.calls, ['start']);
    assert.equal(parser.stopped, true);
  });

  test('framePayload returning false: consumed up to the end of that slice', () => {
    const parser = new FrameParser({ expectMasked: false });
    const h = stopper('payload');
    assert.equal(parser.parse(stream, h), frame.length);
    assert.deepEqual(h.calls, ['start', 'payload']);
  });

  test('frameEnd returning false: consumed up to the end of the frame', () => {
    const parser = new FrameParser({ expectMasked: false });
    const h = stopper('end');
    assert.equal(parser.parse(stream, h), frame.length);
    assert.deepEqual(h.calls, ['start', 'payload', 'end']);
    assert.equal(parser.parse(frame, h), 0);
  });

  test('frameEnd returning false for an empty frame stops right after its header', () => {
    const parser = new FrameParser({ expectMasked: false });
    const h = stopper('end');
    const empty = rawFrame({ opcode: 0xa });
    assert.equal(parser.parse(concat(empty, frame), h), 2);
    assert.deepEqual(h.calls, ['start', 'end']);
  });

  test('stop() makes later input ignored', () => {
    const parser = new FrameParser({ expectMasked: false });
    const rec = new FrameRecorder();
    parser.stop();
    assert.equal(parser.parse(frame, rec), 0);
    assert.deepEqual(rec.calls, []);
  });
});
