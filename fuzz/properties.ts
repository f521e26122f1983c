/**
 * Property-based fuzzing of the sans-I/O core with fast-check. The same
 * properties run briefly in `npm test` (test/fuzz/) and for much longer in
 * `npm run fuzz`.
 *
 * - the connection, fed any bytes in any split, yields events or fails with a
 *   documented ProtocolError, never throws, never buffers beyond its limits,
 *   and gives the same events whatever the split;
 * - messages and frames survive an encode/parse round trip in both directions;
 * - handshake requests and responses survive build/parse/validate, and any
 *   bytes given to the HTTP head reader only ever produce a HandshakeError;
 * - the UTF-8 validator agrees with `new TextDecoder('utf-8', {fatal: true})`.
 */
import * as fc from 'fast-check';
import { concat } from '../conformance/wire.js';
import { MAX_CLOSE_REASON_BYTES } from '../src/core/close.js';
import { Connection, type ConnectionEvent, type Role } from '../src/core/connection.js';
import { ProtocolError, ProtocolErrorCode } from '../src/core/errors.js';
import { encodeFrame, type FrameHeader } from '../src/core/frame.js';
import {
  acceptKey,
  buildClientRequest,
  buildServerResponse,
  generateKey,
  HandshakeError,
  HttpHeadReader,
  parseRequestHead,
  parseResponseHead,
  validateClientRequest,
  validateServerResponse,
} from '../src/core/handshake/index.js';
import { FrameParser, type FrameHandler } from '../src/core/parser.js';
import { sha1Base64 } from '../src/node/sha1.js';
import { isValidUtf8, Utf8Validator } from '../src/core/utf8.js';

/** A named property; `run` asserts it with `numRuns` runs. */
export interface FuzzProperty {
  name: string;
  run(numRuns: number, seed?: number): void;
}

// ---- generators --------------------------------------------------------------

/** Cut points: the input is split at these positions (taken modulo its length). */
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function split(data: Uint8Array, points: readonly number[]): Uint8Array[] {
  if (data.length === 0) return [data];
  const sorted = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of sorted) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  out.push(data.subarray(prev));
  return out;
}

/** Bytes biased toward what UTF-8 decoders trip on. */
const utf8ishByte = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 3, arbitrary: fc.integer({ min: 0x80, max: 0xbf }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      0xc0,
      0xc1,
      0xc2,
      0xdf,
      0xe0,
      0xe1,
      0xed,
      0xee,
      0xef,
      0xf0,
      0xf1,
      0xf4,
      0xf5,
      0xf8,
      0xfe,
      0xff,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const utf8ishBytes = fc.oneof(
  fc.array(utf8ishByte, { maxLength: 64 }).map((a) => Uint8Array.from(a)),
  fc.string({ unit: 'binary', maxLength: 32 }).map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 64 }),
);

/** A frame as a hostile peer could write it: any header bits, any length form, masked or not. */
const rawFrame = fc
  .record({
    fin: fc.boolean(),
    rsv: fc.oneof(
      { weight: 5, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
    ),
    opcode: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
    ),
    masked: fc.boolean(),
    key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    payload: fc.oneof(utf8ishBytes, fc.uint8Array({ maxLength: 300 })),
    closeCode: fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1005, 1006, 1015, 3000, 4999, 5000),
      fc.integer({ min: 0, max: 65535 }),
    ),
    lengthForm: fc.constantFrom(0, 0, 0, 16, 64),
    lie: fc.oneof(
      { weight: 9, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
    ),
  })
  .map((f) => {
    let payload = f.payload;
    if (f.opcode === 8 && payload.length >= 2) {
      payload = payload.slice();
      payload[0] = f.closeCode >> 8;
      payload[1] = f.closeCode & 0xff;
    }
    const length = f.lie ?? BigInt(payload.length);
    const head: number[] = [(f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode];
    const m = f.masked ? 0x80 : 0;
    const form = f.lengthForm !== 0 ? f.lengthForm : length < 126n ? 7 : length < 65536n ? 16 : 64;
    if (form === 7 && length < 126n) head.push(m | Number(length));
    else if (form === 16 && length < 65536n)
      head.push(m | 126, Number(length >> 8n), Number(length & 0xffn));
    else {
      head.push(m | 127);
      for (let s = 56n; s >= 0n; s -= 8n) head.push(Number((length >> s) & 0xffn));
    }
    if (f.masked) head.push(...f.key);
    const out = new Uint8Array(head.length + payload.length);
    out.set(head);
    out.set(payload, head.length);
    if (f.masked) for (let i = 0; i < payload.length; i++) out[head.length + i]! ^= f.key[i & 3]!;
    return out;
  });

/** A byte stream: hostile frames, sometimes with pure noise mixed in. */
const frameStream = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: rawFrame },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    ),
    {
      maxLength: 12,
    },
  )
  .map(concat);

// ---- the connection fed hostile bytes ---------------------------------------

const LIMITS = { maxMessageSize: 512, maxFragments: 8 };
const CODES = new Set(Object.keys(ProtocolErrorCode));

/** Plain, comparable events. */
function plain(events: ConnectionEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case 'binary':
      case 'ping':
      case 'pong':
        return { type: e.type, data: Array.from(e.data) };
      case 'fail':
        return {
          type: 'fail',
          code: (e.error as ProtocolError).code,
          closeCode: e.error.closeCode,
        };
      default:
        return e;
    }
  });
}

function feed(
  role: Role,
  chunks: readonly Uint8Array[],
): { events: ConnectionEvent[]; out: Uint8Array } {
  const conn = new Connection({ role, ...LIMITS, maskKeys: () => Uint8Array.of(1, 2, 3, 4) });
  const events: ConnectionEvent[] = [];
  for (const chunk of chunks) {
    conn.receiveData(chunk);
    if (conn.bufferedMessageBytes > LIMITS.maxMessageSize) {
      throw new Error(
        `Buffered ${conn.bufferedMessageBytes} bytes, over the ${LIMITS.maxMessageSize}-byte limit`,
      );
    }
    for (const event of conn.takeEvents()) {
      // The transport's part: fail the connection at a violation (queues the Close).
      if (event.type === 'violation') {
        conn.fail(event.error);
        events.push(...conn.takeEvents());
      } else {
        events.push(event);
      }
    }
  }
  return { events, out: concat(conn.takeOutgoing()) };
}

function checkEvents(events: ConnectionEvent[]): void {
  let ended = false;
  for (const e of events) {
    if (ended) throw new Error(`Event ${e.type} after the connection ended`);
    switch (e.type) {
      case 'text':
        if (new TextEncoder().encode(e.data).length > LIMITS.maxMessageSize)
          throw new Error('Text over the limit');
        break;
      case 'binary':
        if (e.data.length > LIMITS.maxMessageSize) throw new Error('Binary over the limit');
        break;
      case 'ping':
      case 'pong':
        if (e.data.length > 125) throw new Error('Control payload over 125 bytes');
        break;
      case 'close':
        ended = true;
        break;
      case 'fail':
        ended = true;
        if (!(e.error instanceof ProtocolError) || !CODES.has(e.error.code)) {
          throw new Error(`Undocumented failure: ${String(e.error)}`);
        }
        if (e.error.closeCode !== ProtocolErrorCode[e.error.code])
          throw new Error('Close code mismatch');
        break;
      default:
        throw new Error(`Unknown event ${JSON.stringify(e)}`);
    }
  }
}

const connectionNeverThrows: FuzzProperty = {
  name: 'connection: any bytes in any split give events or a documented ProtocolError, within the limits, the same for every split',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.constantFrom<Role>('client', 'server'),
        frameStream,
        cuts,
        (role, data, points) => {
          const whole = feed(role, [data]);
          checkEvents(whole.events);
          const parts = feed(role, split(data, points));
          checkEvents(parts.events);
          if (JSON.stringify(plain(whole.events)) !== JSON.stringify(plain(parts.events))) {
            throw new Error('Events depend on how the input was split');
          }
          if (Buffer.compare(Buffer.from(whole.out), Buffer.from(parts.out)) !== 0) {
            throw new Error('Outgoing bytes depend on how the input was split');
          }
        },
      ),
      { numRuns, seed },
    );
  },
};

const parserNeverThrows: FuzzProperty = {
  name: 'parser: any bytes in any split give frames or one frameError, and consume what they report',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.oneof(frameStream, fc.uint8Array({ maxLength: 200 })),
        cuts,
        (masked, data, points) => {
          const parser = new FrameParser({ expectMasked: masked });
          let errors = 0;
          let payload = 0;
          let declared = 0;
          const handler: FrameHandler = {
            frameStart(h: FrameHeader) {
              if (!(h.length >= 0 && h.length <= Number.MAX_SAFE_INTEGER))
                throw new Error('Bad length');
              declared += h.length;
              return true;
            },
            framePayload(_d, start, end) {
              payload += end - start;
              return true;
            },
            frameEnd: () => true,
            frameError(e) {
              if (!(e instanceof ProtocolError)) throw new Error('Undocumented error');
              errors++;
            },
          };
          for (const chunk of split(data, points)) {
            const used = parser.parse(chunk, handler);
            if (used < 0 || used > chunk.length) throw new Error('Consumed count out of range');
          }
          if (errors > 1) throw new Error('More than one frameError');
          if (payload > declared) throw new Error('More payload than declared');
        },
      ),
      { numRuns, seed },
    );
  },
};

// ---- round trips ----------------------------------------------------------------

type Message =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'ping'; data: Uint8Array };

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).map((text): Message => ({ kind: 'text', text })),
  fc.uint8Array({ maxLength: 400 }).map((data): Message => ({ kind: 'binary', data })),
  fc.uint8Array({ maxLength: 125 }).map((data): Message => ({ kind: 'ping', data })),
);

const wellFormed = (s: string): string => new TextDecoder().decode(new TextEncoder().encode(s));

const messagesRoundTrip: FuzzProperty = {
  name: 'round trip: messages sent by one side arrive intact at the other, for any fragmentSize and any split',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.constantFrom<Role>('client', 'server'),
        fc.array(message, { maxLength: 8 }),
        fc.integer({ min: 0, max: 64 }),
        fc.option(fc.integer({ min: 1000, max: 4999 }), { nil: undefined }),
        cuts,
        (role, messages, fragmentSize, code, points) => {
          const sender = new Connection({ role, fragmentSize, maxFragments: 1 << 20 });
          const receiver = new Connection({
            role: role === 'client' ? 'server' : 'client',
            maxFragments: 1 << 20,
          });
          for (const m of messages) {
            if (m.kind === 'text') sender.sendText(m.text);
            else if (m.kind === 'binary') sender.sendBinary(m.data);
            else sender.sendPing(m.data);
          }
          const closeCode = code !== undefined && (code < 1004 || code >= 3000) ? code : undefined;
          sender.sendClose(closeCode, closeCode === undefined ? '' : 'bye');
          for (const chunk of split(concat(sender.takeOutgoing()), points))
            receiver.receiveData(chunk);
          const got = receiver.takeEvents();
          const want: unknown[] = messages.map((m) =>
            m.kind === 'text'
              ? { type: 'text', data: wellFormed(m.text) }
              : { type: m.kind, data: Array.from(m.data) },
          );
          want.push({
            type: 'close',
            code: closeCode ?? 1005,
            reason: closeCode === undefined ? '' : 'bye',
          });
          if (JSON.stringify(plain(got)) !== JSON.stringify(want)) {
            throw new Error(`Sent ${JSON.stringify(want)}, received ${JSON.stringify(plain(got))}`);
          }
          // The receiver answered every Ping and echoed the Close, code and reason.
          const back = new Connection({ role, maxFragments: 1 << 20 });
          back.receiveData(concat(receiver.takeOutgoing()));
          const answers = plain(back.takeEvents());
          const pongs = messages
            .filter((m) => m.kind === 'ping')
            .map((m) => ({ type: 'pong', data: Array.from(m.data) }));
          if (
            JSON.stringify(answers) !==
            JSON.stringify([
              ...pongs,
              // The echo carries the peer's code and reason (a Close with no body gets none).
              {
                type: 'close',
                code: closeCode ?? 1005,
                reason: closeCode === undefined ? '' : 'bye',
              },
            ])
          ) {
            throw new Error(`Answers: ${JSON.stringify(answers)}`);
          }
        },
      ),
      { numRuns, seed },
    );
  },
};

const framesRoundTrip: FuzzProperty = {
  name: 'round trip: encodeFrame then FrameParser gives back the header and the unmasked payload',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 8, 9, 10),
        fc.boolean(),
        fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: null }),
        fc.oneof(
          fc.uint8Array({ maxLength: 125 }),
          fc.uint8Array({ minLength: 126, maxLength: 70000 }),
        ),
        cuts,
        (opcode, fin, maskKey, payload, points) => {
          const control = opcode >= 8;
          if (control && payload.length > 125) payload = payload.subarray(0, 125);
          const frame = encodeFrame(opcode, payload, { fin: control ? true : fin, maskKey });
          const parser = new FrameParser({ expectMasked: maskKey !== null });
          let header: { opcode: number; fin: boolean; length: number; key: number[] } | undefined;
          const got = new Uint8Array(payload.length);
          let ends = 0;
          for (const chunk of split(frame, points)) {
            parser.parse(chunk, {
              frameStart(h) {
                header = {
                  opcode: h.opcode,
                  fin: h.fin,
                  length: h.length,
                  key: Array.from(h.maskKey),
                };
                return true;
              },
              framePayload(d, start, end, offset) {
                for (let i = start; i < end; i++) {
                  const o = offset + i - start;
                  got[o] = maskKey === null ? d[i]! : d[i]! ^ header!.key[o & 3]!;
                }
                return true;
              },
              frameEnd() {
                ends++;
                return true;
              },
              frameError(e) {
                throw e;
              },
            });
          }
          if (ends !== 1 || header === undefined) throw new Error('Not exactly one frame');
          if (
            header.opcode !== opcode ||
            header.fin !== (control ? true : fin) ||
            header.length !== payload.length
          ) {
            throw new Error('Header differs');
          }
          if (Buffer.compare(Buffer.from(got), Buffer.from(payload)) !== 0)
            throw new Error('Payload differs');
        },
      ),
      { numRuns, seed },
    );
  },
};

// ---- handshake --------------------------------------------------------------------

const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const headerValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);

function requestLike(
  headers: { get(n: string): string | undefined; count(n: string): number },
  method: string,
  httpVersion: string,
) {
  return {
    method,
    httpVersion,
    header: (n: string) => headers.get(n),
    headerCount: (n: string) => headers.count(n),
  };
}

const handshakeRoundTrip: FuzzProperty = {
  name: 'handshake: built requests and responses parse and validate back, in any split',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc.uniqueArray(token, { maxLength: 4 }),
        fc.array(
          fc.tuple(
            token.map((t) => `X-${t}`),
            headerValue,
          ),
          { maxLength: 6 },
        ),
        fc.stringMatching(/^\/[A-Za-z0-9/?=&._~-]{0,30}$/),
        cuts,
        cuts,
        (protocols, headers, path, cutsReq, cutsRes) => {
          const key = generateKey();
          const request = buildClientRequest({
            host: 'example.com:8080',
            path,
            key,
            protocols,
            headers,
          });
          const reader = new HttpHeadReader();
          let head: { head: string; rest: Uint8Array } | null = null;
          for (const chunk of split(new TextEncoder().encode(request), cutsReq))
            head ??= reader.push(chunk);
          if (head === null || head.rest.length !== 0) throw new Error('Request head not found');
          const req = parseRequestHead(head.head);
          if (req.target !== path) throw new Error('Target differs');
          for (const [name, value] of headers) {
            if (!req.headers.entries.some(([n, v]) => n === name.toLowerCase() && v === value)) {
              throw new Error(`Header ${name} lost`);
            }
          }
          const hs = validateClientRequest(requestLike(req.headers, req.method, req.httpVersion));
          if (hs.key !== key || JSON.stringify(hs.protocols) !== JSON.stringify(protocols))
            throw new Error('Offer differs');
          const chosen = protocols[protocols.length - 1] ?? '';
          const response = buildServerResponse({ key, sha1Base64, protocol: chosen });
          const reader2 = new HttpHeadReader();
          let head2: { head: string; rest: Uint8Array } | null = null;
          const framed = new TextEncoder().encode(`${response}\x81\x02hi`);
          for (const chunk of split(framed, cutsRes)) {
            const r = reader2.push(chunk);
            if (head2 === null && r !== null) head2 = r;
            else if (head2 !== null)
              head2 = { head: head2.head, rest: concat([head2.rest, chunk]) };
          }
          if (head2 === null || new TextDecoder().decode(head2.rest) !== '\x81\x02hi')
            throw new Error('Rest differs');
          const res = parseResponseHead(head2.head);
          const negotiated = validateServerResponse(res, { key, sha1Base64, protocols });
          if (negotiated.protocol !== chosen) throw new Error('Protocol differs');
          if (res.headers.get('sec-websocket-accept') !== acceptKey(key, sha1Base64))
            throw new Error('Accept differs');
        },
      ),
      { numRuns, seed },
    );
  },
};

const httpChars = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      ...'GET / HTTP/1.1\r\n:Host: a\r\nUpgrade: websocket\r\n\r\n \t,'.split(''),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) },
);

const handshakeHostileInput: FuzzProperty = {
  name: 'handshake: any bytes to the head reader and parsers give a head, nothing yet, or a HandshakeError',
  run(numRuns, seed) {
    fc.assert(
      fc.property(
        fc
          .array(httpChars, { maxLength: 300 })
          .map((a) => Uint8Array.from(a.join(''), (c) => c.charCodeAt(0))),
        cuts,
        fc.integer({ min: 16, max: 512 }),
        fc.integer({ min: 1, max: 8 }),
        (data, points, maxHeaderSize, maxHeaderCount) => {
          const reader = new HttpHeadReader({ maxHeaderSize, maxHeaderCount });
          try {
            for (const chunk of split(data, points)) {
              const r = reader.push(chunk);
              if (r === null) continue;
              if (r.head.length + 4 > maxHeaderSize)
                throw new Error('Head larger than maxHeaderSize');
              for (const parse of [parseRequestHead, parseResponseHead]) {
                try {
                  const parsed = parse(r.head, maxHeaderCount);
                  if (parsed.headers.entries.length > maxHeaderCount)
                    throw new Error('More headers than maxHeaderCount');
                } catch (error) {
                  if (!(error instanceof HandshakeError)) throw error;
                }
              }
              break;
            }
          } catch (error) {
            if (!(error instanceof HandshakeError)) throw error;
          }
        },
      ),
      { numRuns, seed },
    );
  },
};

// ---- UTF-8 ---------------------------------------------------------------------

const utf8AgreesWithTextDecoder: FuzzProperty = {
  name: 'utf8: the incremental validator agrees with TextDecoder(fatal) on any bytes in any split',
  run(numRuns, seed) {
    fc.assert(
      fc.property(utf8ishBytes, cuts, (data, points) => {
        let expected = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(data);
        } catch {
          expected = false;
        }
        if (isValidUtf8(data) !== expected)
          throw new Error('isValidUtf8 disagrees with TextDecoder');
        const v = new Utf8Validator();
        let ok = true;
        for (const chunk of split(data, points)) {
          if (!v.update(chunk)) {
            ok = false;
            break;
          }
        }
        if ((ok && v.complete) !== expected)
          throw new Error('Utf8Validator disagrees with TextDecoder');
      }),
      { numRuns, seed },
    );
  },
};

const utf8FailsFast: FuzzProperty = {
  name: 'utf8: the validator fails at the same byte as a streaming TextDecoder(fatal)',
  run(numRuns, seed) {
    fc.assert(
      fc.property(utf8ishBytes, (data) => {
        const decoder = new TextDecoder('utf-8', { fatal: true });
        const v = new Utf8Validator();
        for (let i = 0; i < data.length; i++) {
          let decoderOk = true;
          try {
            decoder.decode(data.subarray(i, i + 1), { stream: true });
          } catch {
            decoderOk = false;
          }
          const ours = v.update(data, i, i + 1);
          if (ours !== decoderOk) throw new Error(`Disagree at byte ${i}`);
          if (!ours) return;
        }
      }),
      { numRuns, seed },
    );
  },
};

/** Close reasons: the largest allowed reason is accepted, every longer one refused. */
const closeReasonLimit: FuzzProperty = {
  name: 'close: sendClose accepts reasons up to 123 UTF-8 bytes and refuses longer ones',
  run(numRuns, seed) {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 130 }), (reason) => {
        const conn = new Connection({ role: 'server' });
        const bytes = new TextEncoder().encode(reason).length;
        let threw = false;
        try {
          conn.sendClose(1000, reason);
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          threw = true;
        }
        if (threw !== bytes > MAX_CLOSE_REASON_BYTES)
          throw new Error(`${bytes} bytes: threw=${threw}`);
      }),
      { numRuns, seed },
    );
  },
};

export const properties: FuzzProperty[] = [
  connectionNeverThrows,
  parserNeverThrows,
  messagesRoundTrip,
  framesRoundTrip,
  handshakeRoundTrip,
  handshakeHostileInput,
  utf8AgreesWithTextDecoder,
  utf8FailsFast,
  closeReasonLimit,
];
