import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  InflateRaw,
} from 'node:zlib';
import {
  acceptOffer,
  clientOffer,
  validateAnswer,
  type PerMessageDeflateOptions,
} from '../../../src/core/extensions/deflate-negotiation.js';
import { PerMessageDeflate } from '../../../src/core/extensions/permessage-deflate.js';
import {
  INFLATE_KEPT_OUTPUT,
  nodeDeflateEngine,
  setHandleInflate,
  setInflateTakesDictionary,
} from '../../../src/node/zlib-deflate.js';

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

function pair(client: PerMessageDeflateOptions = {}, server: PerMessageDeflateOptions = {}) {
  const accepted = acceptOffer(clientOffer(client), server)!;
  const answer = validateAnswer(accepted.header, client);
  assert.ok(answer.ok && answer.params !== null);
  return {
    client: new PerMessageDeflate(
      'client',
      { params: answer.params, header: answer.header },
      nodeDeflateEngine,
      { ...client, threshold: 0 },
    ),
    server: new PerMessageDeflate('server', accepted, nodeDeflateEngine, {
      ...server,
      threshold: 0,
    }),
  };
}

function json(i: number, size: number): Uint8Array {
  let s = '';
  for (let k = 0; s.length < size; k++)
    s += JSON.stringify({ id: i, k, name: `item-${(i * 31 + k) % 1000}`, ok: k % 3 === 0 });
  return new TextEncoder().encode(s.slice(0, size));
}

/** A persistent zlib stream, the way ws and browsers keep one per connection. */
function flush(z: DeflateRaw | InflateRaw, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (b: Buffer) => chunks.push(b);
    z.on('data', onData);
    z.once('error', reject);
    z.write(data);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off('data', onData);
      z.off('error', reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * 100 messages from a persistent zlib stream (context takeover) decode to
 * what was sent, each owning exactly its bytes.
 */
async function decodesPersistentStream(): Promise<void> {
  const { client } = pair({}, { serverMaxWindowBits: 15 });
  const peer = createDeflateRaw({ windowBits: 15 });
  for (let i = 0; i < 100; i++) {
    // Every other message repeats the one before: it refers back into the history.
    const m = json(i - (i % 2), 100 + i * 300);
    const c = await flush(peer, m);
    const r = client.decode(c.subarray(0, c.length - 4), 1 << 20);
    assert.ok(r.ok, `message ${i}`);
    assert.deepEqual(r.data, m);
    assert.equal(r.data.buffer.byteLength, m.length, 'the message owns exactly its bytes');
  }
  peer.close();
}

describe('permessage-deflate transform', () => {
  const combos: [string, PerMessageDeflateOptions, PerMessageDeflateOptions][] = [
    ['defaults', {}, {}],
    ['window bits 9', { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }, {}],
    [
      'window bits 15',
      { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    ],
    ['server_no_context_takeover', { serverNoContextTakeover: true }, {}],
    ['client_no_context_takeover', { clientNoContextTakeover: true }, {}],
    [
      'both no_context_takeover',
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      {},
    ],
  ];
  for (const [name, c, s] of combos) {
    test(`${name}: 200 messages of 16 B to 128 KiB round-trip both ways`, () => {
      const { client, server } = pair(c, s);
      for (let i = 0; i < 200; i++) {
        const size = 16 << (i % 14);
        const m = json(i, Math.min(size, 128 * 1024));
        const up = server.decode(client.encode(m)!, 1 << 20);
        assert.ok(up.ok);
        assert.deepEqual(up.data, m);
        const down = client.decode(server.encode(m)!, 1 << 20);
        assert.ok(down.ok);
        assert.deepEqual(down.data, m);
      }
    });
  }

  test('context takeover makes a repeated message smaller; no context takeover does not', () => {
    const m = json(1, 2000);
    const a = pair();
    const first = a.client.encode(m)!.length;
    a.server.decode(a.client.encode(m)!, 1 << 20);
    const second = a.client.encode(m)!.length;
    assert.ok(second < first / 4, `${second} vs ${first}`);
    const b = pair({ clientNoContextTakeover: true });
    assert.equal(b.client.encode(m)!.length, b.client.encode(m)!.length);
  });

  test('history held between messages is at most the two windows', () => {
    const { client, server } = pair();
    for (let i = 0; i < 20; i++) server.decode(client.encode(json(i, 50_000))!, 1 << 20);
    for (let i = 0; i < 20; i++) client.decode(server.encode(json(i, 50_000))!, 1 << 20);
    // The server compresses with 4 KiB and the client with 4 KiB windows by default.
    assert.equal(server.heldBytes, 4096 + 4096);
    assert.equal(client.heldBytes, 4096 + 4096);
  });

  test('a message below the threshold is sent uncompressed', () => {
    const accepted = acceptOffer(clientOffer())!;
    const t = new PerMessageDeflate('server', accepted, nodeDeflateEngine);
    assert.equal(t.encode(new Uint8Array(1023)), null);
    assert.notEqual(t.encode(new Uint8Array(1024)), null);
    assert.equal(t.encode(new Uint8Array(0)), null);
  });

  test('the sync-flush tail is stripped on send (RFC 7692 7.2.1)', () => {
    const { client } = pair();
    const out = client.encode(json(0, 2000))!;
    assert.notDeepEqual(Array.from(out.subarray(-4)), [0, 0, 0xff, 0xff]);
  });

  test('decodes what a persistent zlib stream sends (as ws does), across 100 messages with context takeover', async () => {
    const { client } = pair({}, { serverMaxWindowBits: 15 });
    const peer = createDeflateRaw({ windowBits: 15 });
    for (let i = 0; i < 100; i++) {
      const m = json(i, 100 + i * 300);
      const c = await flush(peer, m);
      const r = client.decode(c.subarray(0, c.length - 4), 1 << 20);
      assert.ok(r.ok, `message ${i}`);
      assert.deepEqual(r.data, m);
    }
    peer.close();
  });

  test('a persistent zlib inflater reads what we send with context takeover', async () => {
    const { server } = pair();
    const peer = createInflateRaw({ windowBits: 15 });
    for (let i = 0; i < 100; i++) {
      const m = json(i, 100 + i * 300);
      const out = await flush(peer, Buffer.concat([server.encode(m)!, TAIL]));
      assert.deepEqual(new Uint8Array(out), m, `message ${i}`);
    }
    peer.close();
  });

  test('window bits 8 agreed: what we send inflates with a 256-byte window, with context takeover', async () => {
    // Data whose repeats lie 400 bytes back: out of a 256-byte window.
    const message = (i: number): Uint8Array => {
      const block = json(i, 400);
      return new Uint8Array(Buffer.concat([block, block, json(i + 1, 200), block]));
    };
    // zlib checks a distance against its window and the output of the current
    // chunk: 64-byte chunks make that at most 256 + 63 bytes.
    const strict = (): InflateRaw => createInflateRaw({ windowBits: 8, chunkSize: 64 });
    // The check can fail: window 15 output refers further back than that.
    const control = strict();
    const wide = deflateRawSync(message(0), { finishFlush: constants.Z_SYNC_FLUSH });
    await assert.rejects(flush(control, wide), /too far back/);
    control.close();
    for (const sender of ['server', 'client'] as const) {
      const bits = { serverMaxWindowBits: 8, clientMaxWindowBits: 8 };
      const ends = pair(bits, bits);
      assert.equal(
        ends.server.header,
        'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
      );
      const peer = strict();
      for (let i = 0; i < 50; i++) {
        const m = message(i);
        const out = await flush(peer, Buffer.concat([ends[sender].encode(m)!, TAIL]));
        assert.deepEqual(new Uint8Array(out), m, `${sender}, message ${i}`);
      }
      peer.close();
    }
  });

  test('a deflate bomb stops at the limit: 1 GiB of zeros compressed to about 1 MB', () => {
    const zeros = new Uint8Array(64 * 1024 * 1024);
    // 16 flushes of 64 MiB in one raw stream, about 1 MB, inflating to 1 GiB.
    const part = deflateRawSync(zeros, { finishFlush: constants.Z_SYNC_FLUSH });
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => part.subarray(0, part.length - 4)));
    assert.ok(bomb.length < 1.2e6, `${bomb.length}`);
    const { server } = pair();
    const before = process.memoryUsage().arrayBuffers;
    const t = performance.now();
    const r = server.decode(bomb, 4 * 1024 * 1024);
    assert.deepEqual(r, { ok: false, reason: 'too-big' });
    // Stopped after about 4 MiB of output, not 1 GiB.
    assert.ok(performance.now() - t < 1000);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  });

  test('a message of exactly the limit passes; one byte more is too big', () => {
    const { client, server } = pair();
    const m = json(3, 10_000);
    const c = client.encode(m)!;
    assert.ok(server.decode(c, 10_000).ok);
    const { client: c2, server: s2 } = pair();
    assert.deepEqual(s2.decode(c2.encode(m)!, 9_999), { ok: false, reason: 'too-big' });
  });

  test('invalid compressed data is reported, not thrown', () => {
    const { server } = pair();
    const r = server.decode(Uint8Array.of(0xff, 0xff, 0xff), 1000);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'invalid');
  });

  test('a decoded message owns exactly its bytes', () => {
    const { client, server } = pair();
    const r = server.decode(client.encode(json(1, 100))!, 1000);
    assert.ok(r.ok);
    assert.equal(r.data.buffer.byteLength, 100);
  });

  test('a message longer than the output kept while inflating: intact, exactly the limit passes, one byte more is too big', () => {
    const size = INFLATE_KEPT_OUTPUT * 3 + 123;
    const m = json(7, size);
    const { client, server } = pair();
    for (let i = 0; i < 2; i++) {
      // The second one refers back into the first.
      const r = server.decode(client.encode(m)!, size);
      assert.ok(r.ok, `message ${i}`);
      assert.deepEqual(r.data, m);
      assert.equal(r.data.buffer.byteLength, size);
    }
    const { client: c2, server: s2 } = pair();
    assert.deepEqual(s2.decode(c2.encode(m)!, size - 1), { ok: false, reason: 'too-big' });
  });

  test('invalid compressed data past the output kept while inflating is reported, not thrown', () => {
    const { client, server } = pair();
    const c = client.encode(json(2, INFLATE_KEPT_OUTPUT * 2))!;
    const broken = Buffer.concat([c, Uint8Array.of(0xff, 0xff, 0xff)]);
    const r = server.decode(broken, INFLATE_KEPT_OUTPUT * 4);
    assert.equal(!r.ok && r.reason, 'invalid');
  });

  test('the payload is extended in place when the caller leaves room after it', () => {
    const { client, server } = pair();
    const m = json(4, 5000);
    const c = client.encode(m)!;
    const room = new Uint8Array(c.length + 4).fill(0xaa);
    room.set(c);
    const r = server.decode(room.subarray(0, c.length), 5000, 4);
    assert.ok(r.ok);
    assert.deepEqual(r.data, m);
    assert.deepEqual(room.subarray(c.length), Uint8Array.of(0, 0, 0xff, 0xff));
    // Without room, the bytes after the payload are not the decoder's.
    const { client: c2, server: s2 } = pair();
    const c3 = c2.encode(m)!;
    const tight = new Uint8Array(c3.length + 4).fill(0xaa);
    tight.set(c3);
    assert.ok(s2.decode(tight.subarray(0, c3.length), 5000).ok);
    assert.deepEqual(tight.subarray(c3.length), Uint8Array.of(0xaa, 0xaa, 0xaa, 0xaa));
  });
});

describe('permessage-deflate on a runtime whose node:zlib keeps its handle to itself (one-shot inflate)', () => {
  before(() => setHandleInflate(false));
  after(() => setHandleInflate(undefined));

  test(
    'decodes a persistent zlib stream across 100 messages with context takeover',
    decodesPersistentStream,
  );

  test('a deflate bomb stops at the limit; invalid data is reported', () => {
    const part = deflateRawSync(new Uint8Array(64 * 1024 * 1024), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const { server } = pair();
    assert.deepEqual(server.decode(part.subarray(0, part.length - 4), 1 << 20), {
      ok: false,
      reason: 'too-big',
    });
    const r = pair().server.decode(Uint8Array.of(0xff, 0xff, 0xff), 1000);
    assert.equal(!r.ok && r.reason, 'invalid');
  });
});

describe('permessage-deflate on a runtime whose inflateRawSync ignores `dictionary` (Deno 2.9)', () => {
  before(() => setInflateTakesDictionary(false));
  after(() => setInflateTakesDictionary(undefined));

  test(
    'decodes a persistent zlib stream across 100 messages with context takeover',
    decodesPersistentStream,
  );

  test('the limit counts the message only, not the history in front of it', () => {
    const { client, server } = pair();
    const m = json(3, 10_000);
    assert.ok(server.decode(client.encode(m)!, 10_000).ok);
    // The second message comes with 10,000 bytes of history.
    const r = server.decode(client.encode(m)!, 10_000);
    assert.ok(r.ok);
    assert.deepEqual(r.data, m);
    const { client: c2, server: s2 } = pair();
    assert.ok(s2.decode(c2.encode(m)!, 10_000).ok);
    assert.deepEqual(s2.decode(c2.encode(m)!, 9_999), { ok: false, reason: 'too-big' });
  });

  test('a deflate bomb after some history still stops at the limit', () => {
    const zeros = new Uint8Array(64 * 1024 * 1024);
    const part = deflateRawSync(zeros, { finishFlush: constants.Z_SYNC_FLUSH });
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => part.subarray(0, part.length - 4)));
    const { client, server } = pair();
    assert.ok(server.decode(client.encode(json(1, 5000))!, 1 << 20).ok);
    const before = process.memoryUsage().arrayBuffers;
    assert.deepEqual(server.decode(bomb, 4 * 1024 * 1024), { ok: false, reason: 'too-big' });
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  });

  test('a message longer than the output kept while inflating, after some history, decodes intact', () => {
    const size = INFLATE_KEPT_OUTPUT * 2 + 99;
    const { client, server } = pair();
    assert.ok(server.decode(client.encode(json(1, 5000))!, 1 << 20).ok);
    const m = json(5, size);
    const r = server.decode(client.encode(m)!, size);
    assert.ok(r.ok);
    assert.deepEqual(r.data, m);
    assert.equal(r.data.buffer.byteLength, size);
    assert.deepEqual(server.decode(client.encode(m)!, size - 1), { ok: false, reason: 'too-big' });
  });

  test('invalid compressed data after some history is reported, not thrown', () => {
    const { client, server } = pair();
    assert.ok(server.decode(client.encode(json(1, 500))!, 1 << 20).ok);
    const r = server.decode(Uint8Array.of(0xff, 0xff, 0xff), 1000);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'invalid');
  });
});

describe('permessage-deflate on a runtime whose node:zlib destroys a failed stream a tick late (Deno 2.9)', () => {
  // Deno's zlibOnError defers destroy() to process.nextTick: right after the
  // failing writeSync the stream is not `destroyed` yet.
  let restore: () => void;
  before(() => {
    const proto = InflateRaw.prototype as unknown as { destroy: (error?: Error) => unknown };
    const destroy = proto.destroy;
    proto.destroy = function (this: unknown, error?: Error) {
      process.nextTick(() => destroy.call(this, error));
      return this;
    };
    restore = () => {
      proto.destroy = destroy;
    };
  });
  after(() => restore());

  test('invalid compressed data after a valid block is reported, not delivered as its valid part', () => {
    const good = deflateRawSync(Buffer.from('hello, world'), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    // The valid block, then a block of the reserved type 3.
    const broken = Buffer.concat([good.subarray(0, good.length - 4), Uint8Array.of(0x07, 0xff)]);
    const r = pair().server.decode(broken, 1000);
    assert.equal(
      !r.ok && r.reason,
      'invalid',
      JSON.stringify(r.ok && Buffer.from(r.data).toString()),
    );
    const r2 = pair().server.decode(Uint8Array.of(0xff, 0xff, 0xff), 1000);
    assert.equal(!r2.ok && r2.reason, 'invalid');
  });

  test('invalid data past the output kept while inflating is reported', () => {
    const { client, server } = pair();
    const c = client.encode(json(2, INFLATE_KEPT_OUTPUT * 2))!;
    const r = server.decode(
      Buffer.concat([c, Uint8Array.of(0xff, 0xff, 0xff)]),
      INFLATE_KEPT_OUTPUT * 4,
    );
    assert.equal(!r.ok && r.reason, 'invalid');
  });
});
