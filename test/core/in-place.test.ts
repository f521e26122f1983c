/**
 * Input written straight into the message buffer (Connection.payloadTarget /
 * receiveInPlace, FrameParser.skipPayload): the same events, limits and
 * failures as the same bytes fed through receiveData.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Connection, ConnectionEvent, Role } from '../../src/core/connection.js';
import {
  assertBytes,
  concat,
  frameFrom,
  makeConnection,
  patternBytes,
  peerOf,
  prng,
  randomBytes,
  utf8,
} from './helpers.js';

const OP = { CONT: 0, TEXT: 1, BINARY: 2, PING: 9 } as const;

/**
 * Feeds `wire` the way a transport that can choose where to read does: each
 * read of at most `readSize` bytes goes into the payload target when there is
 * one (at least `min` bytes of payload to come), else through receiveData.
 * Returns the events and how many bytes went in place.
 */
function feedInPlace(
  conn: Connection,
  wire: Uint8Array,
  readSize: (n: number) => number,
  min = 1,
): { events: ConnectionEvent[]; inPlace: number } {
  let at = 0;
  let inPlace = 0;
  let reads = 0;
  while (at < wire.length) {
    const target = conn.payloadTarget(min);
    const n = Math.min(readSize(reads++), wire.length - at, target?.length ?? Infinity);
    if (target !== null) {
      target.set(wire.subarray(at, at + n));
      conn.receiveInPlace(n);
      inPlace += n;
    } else {
      conn.receiveData(wire.slice(at, at + n));
    }
    at += n;
  }
  return { events: conn.takeEvents(), inPlace };
}

function messages(events: ConnectionEvent[]): Array<string | Uint8Array> {
  return events.flatMap((e) => (e.type === 'text' || e.type === 'binary' ? [e.data] : []));
}

for (const role of ['client', 'server'] as const satisfies readonly Role[]) {
  const sender = peerOf(role);
  describe(`in-place input (${role})`, () => {
    test('large binary and text messages, fragmented or not, with pings between', () => {
      const big = randomBytes(prng(1), 300_000);
      const text = 'é€😀'.repeat(20_000);
      const textBytes = utf8(text);
      const wire = concat(
        frameFrom(sender, { opcode: OP.BINARY, payload: big }),
        frameFrom(sender, { opcode: OP.TEXT, payload: textBytes.subarray(0, 70_001), fin: false }),
        frameFrom(sender, { opcode: OP.PING, payload: utf8('p') }),
        frameFrom(sender, { opcode: OP.CONT, payload: textBytes.subarray(70_001) }),
        frameFrom(sender, { opcode: OP.BINARY, payload: patternBytes(10) }),
      );
      for (const size of [1, 7, 4096, 65_536, 1 << 20]) {
        const conn = makeConnection(role);
        const { events, inPlace } = feedInPlace(conn, wire, () => size);
        // Small reads leave nearly every payload byte to be read in place.
        const least = size <= 4096 ? 400_000 : size < wire.length ? 1 : 0;
        assert.ok(inPlace >= least, `only ${inPlace} bytes went in place`);
        const got = messages(events);
        assert.equal(got.length, 3);
        assertBytes(got[0] as Uint8Array, big);
        assert.equal(got[1], text);
        assertBytes(got[2] as Uint8Array, patternBytes(10));
        assert.ok(events.some((e) => e.type === 'ping'));
      }
    });

    test('random read sizes give the same messages as receiveData', () => {
      const next = prng(42);
      for (let round = 0; round < 20; round++) {
        const parts: Uint8Array[] = [];
        const expected: Uint8Array[] = [];
        for (let i = 0; i < 5; i++) {
          const payload = randomBytes(next, next() % 100_000);
          expected.push(payload);
          parts.push(frameFrom(sender, { opcode: OP.BINARY, payload }));
        }
        const conn = makeConnection(role);
        const { events } = feedInPlace(conn, concat(...parts), () => 1 + (next() % 50_000), 1024);
        const got = messages(events);
        assert.equal(got.length, expected.length);
        got.forEach((m, i) => assertBytes(m as Uint8Array, expected[i]!));
      }
    });

    test('no target for a header, a control frame, or less than `min` bytes to come', () => {
      const conn = makeConnection(role);
      assert.equal(conn.payloadTarget(1), null);
      // Header only: the payload (1000 bytes) is still to come.
      const frame = frameFrom(sender, { opcode: OP.BINARY, payload: patternBytes(1000) });
      const header = frame.length - 1000;
      conn.receiveData(frame.subarray(0, header));
      assert.equal(conn.payloadTarget(1001), null);
      const target = conn.payloadTarget(1000);
      assert.equal(target?.length, 1000);
      conn.receiveData(frame.subarray(header, header + 400));
      assert.equal(conn.payloadTarget(1)?.length, 600);
      // A control frame's payload always goes through receiveData.
      const ping = frameFrom(sender, { opcode: OP.PING, payload: patternBytes(100) });
      const other = makeConnection(role);
      other.receiveData(ping.subarray(0, ping.length - 100));
      assert.equal(other.payloadTarget(1), null);
      assert.throws(() => conn.receiveInPlace(601), RangeError);
    });

    test('invalid UTF-8 written in place is a violation with 1007', () => {
      const payload = concat(utf8('a'.repeat(50_000)), Uint8Array.of(0xff), utf8('b'.repeat(10)));
      const conn = makeConnection(role);
      const { events } = feedInPlace(conn, frameFrom(sender, { opcode: OP.TEXT, payload }), (i) =>
        i === 0 ? 100 : 1 << 20,
      );
      const fail = events.find((e) => e.type === 'violation');
      assert.ok(fail !== undefined && fail.type === 'violation');
      assert.equal(fail.error.closeCode, 1007);
      assert.equal(conn.payloadTarget(1), null, 'no more input is wanted');
    });

    test('maxMessageSize is checked from the header, before any target exists', () => {
      const conn = makeConnection(role, { maxMessageSize: 1000 });
      const { events, inPlace } = feedInPlace(
        conn,
        frameFrom(sender, { opcode: OP.BINARY, payload: patternBytes(5000) }),
        () => 100,
      );
      assert.equal(inPlace, 0);
      const fail = events.find((e) => e.type === 'violation');
      assert.ok(fail !== undefined && fail.type === 'violation');
      assert.equal(fail.error.closeCode, 1009);
    });
  });
}
