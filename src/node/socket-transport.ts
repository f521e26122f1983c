/**
 * The Transport of a session over a node:net or node:tls socket.
 */
import type { Socket } from 'node:net';
import type { Transport, TransportHandlers } from '../streams/transport.js';

export class SocketTransport implements Transport {
  readonly socket: Socket;
  #attached = false;

  /** `socket` must be paused; the session resumes it when the readable wants data. */
  constructor(socket: Socket) {
    this.socket = socket;
  }

  attach(h: TransportHandlers): void {
    if (this.#attached) throw new Error('Transport already attached');
    this.#attached = true;
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => h.data(chunk));
    socket.on('end', () => h.end());
    socket.on('error', (error) => h.error(error));
    socket.on('close', () => h.close());
    if (socket.destroyed) queueMicrotask(() => h.close());
  }

  write(chunks: Uint8Array[], callback: (error?: Error | null) => void): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      callback(new Error('The socket is closed'));
      return;
    }
    const n = chunks.length;
    if (n === 1) {
      socket.write(chunks[0]!, callback);
      return;
    }
    // Several frames queued in one go leave in one writev.
    socket.cork();
    for (let i = 0; i < n - 1; i++) socket.write(chunks[i]!);
    socket.write(chunks[n - 1]!, callback);
    socket.uncork();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get bytesRead(): number {
    return this.socket.bytesRead;
  }
}
