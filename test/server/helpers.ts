/**
 * Helpers for the server tests: a raw TCP client that speaks HTTP and
 * RFC 6455 frames by hand (written independently of src/core, so the server
 * is checked against something not derived from it), and small shortcuts for
 * the `ws` client.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** The sample key of RFC 6455 1.3 (its accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=). */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A complete, valid opening handshake request, with `extra` header lines appended. */
export function upgradeRequest(port: number, extra: string[] = [], path = '/'): string {
  return (
    [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
      'Sec-WebSocket-Version: 13',
      ...extra,
    ].join('\r\n') + '\r\n\r\n'
  );
}

/** An HTTP response as read off the wire. */
export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  body: string;
}

/** Splits a response head from what follows; null while the head is incomplete. */
export function parseResponse(data: Buffer): { response: RawResponse; rest: Buffer } | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return {
    response: { status, headers, body: '' },
    rest: data.subarray(end + 4),
  };
}

/** Opens a TCP connection to the loopback port. */
export async function tcp(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host });
  await once(socket, 'connect');
  return socket;
}

/**
 * Sends `request` on a fresh connection and reads until the server closes it:
 * the server's answer to a bad handshake must be complete and must end the
 * connection (a hang fails the test through its timeout).
 */
export async function exchange(port: number, request: string | Buffer): Promise<RawResponse> {
  const socket = await tcp(port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  socket.write(request);
  await once(socket, 'close');
  const data = Buffer.concat(chunks);
  const parsed = parseResponse(data);
  if (parsed === null)
    throw new Error(`No HTTP response, got ${JSON.stringify(data.toString('latin1'))}`);
  parsed.response.body = parsed.rest.toString('utf8');
  return parsed.response;
}

/** A raw WebSocket client connection: the socket after a 101, and the bytes that followed it. */
export interface RawClient {
  socket: Socket;
  response: RawResponse;
  /** Frames received so far (server frames are unmasked). */
  frames: RawFrame[];
  /** Resolves with the next frame (or the next already buffered). */
  nextFrame(): Promise<RawFrame>;
}

export interface RawFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Parses complete frames from the front of `data`; returns them and the unparsed rest. */
export function parseFrames(data: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (;;) {
    if (data.length - at < 2) break;
    const b0 = data[at]!;
    const b1 = data[at + 1]!;
    let len = b1 & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (data.length - off < 2) break;
      len = data.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (data.length - off < 8) break;
      len = Number(data.readBigUInt64BE(off));
      off += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      if (data.length - off < 4) break;
      key = data.subarray(off, off + 4);
      off += 4;
    }
    if (data.length - off < len) break;
    const payload = Buffer.from(data.subarray(off, off + len));
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, masked, payload });
    at = off + len;
  }
  return { frames, rest: data.subarray(at) };
}

/** One frame as a client sends it: masked with a random key unless `mask` is false. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  { fin = true, mask = true }: { fin?: boolean; mask?: boolean } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const len = data.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A Close frame payload: the code (big-endian) and the UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/** The code and reason of a Close frame payload (1005 for an empty one). */
export function readClose(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

/** Opens a raw WebSocket connection with a hand-written handshake; throws unless the answer is 101. */
export async function rawClient(port: number, extra: string[] = []): Promise<RawClient> {
  const socket = await tcp(port);
  socket.on('error', () => {});
  socket.write(upgradeRequest(port, extra));
  let buffer: Buffer = Buffer.alloc(0);
  let response: RawResponse | null = null;
  const frames: RawFrame[] = [];
  let waiter: (() => void) | null = null;
  let headReady!: () => void;
  const head = new Promise<void>((resolve) => (headReady = resolve));
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (response === null) {
      const parsed = parseResponse(buffer);
      if (parsed === null) return;
      response = parsed.response;
      buffer = parsed.rest;
      headReady();
    }
    const { frames: got, rest } = parseFrames(buffer);
    buffer = rest;
    frames.push(...got);
    if (got.length > 0) waiter?.();
  });
  await Promise.race([
    head,
    once(socket, 'close').then(() => {
      throw new Error('closed before a response');
    }),
  ]);
  const res = response as unknown as RawResponse;
  if (res.status !== 101) throw new Error(`Expected 101, got ${res.status}`);
  let read = 0;
  return {
    socket,
    response: res,
    frames,
    async nextFrame(): Promise<RawFrame> {
      while (read >= frames.length) {
        if (socket.destroyed) throw new Error('socket closed while waiting for a frame');
        await Promise.race([
          new Promise<void>((resolve) => (waiter = resolve)),
          once(socket, 'close'),
        ]);
      }
      return frames[read++]!;
    },
  };
}

/** Opens a `ws` client and waits for 'open'. */
export async function wsOpen(
  url: string,
  protocols?: string | string[],
  options?: WebSocket.ClientOptions,
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await once(ws, 'open');
  return ws;
}

/** The next message of a `ws` client, as a string or Buffer. */
export async function wsMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
  return { data, isBinary };
}

/** Waits for a `ws` client's 'close' and returns what it saw. */
export async function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

/**
 * The status a `ws` client gets (no compression offered): 101 if it opened
 * (it is closed again at once), else the refusal's.
 */
export function upgradeStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      response.destroy();
      resolve(response.statusCode);
    });
  });
}
