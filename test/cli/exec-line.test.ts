/**
 * `serve --exec --line` with a client that reads slowly or not at all: every
 * line of the command's output goes out before the Close, and a client that
 * left frees its slot.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { upgradeStatus } from '../server/helpers.js';
import { ensureBuilt, type Served, serveCli } from './helpers.js';

before(() => ensureBuilt());

const servers: Served[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

async function serveLines(args: string[]): Promise<Served> {
  const server = await serveCli(['--quiet', '--no-deflate', ...args]);
  servers.push(server);
  return server;
}

describe('serve --exec --line', { timeout: 30_000 }, () => {
  it('a command that exits while its client is not reading: every line arrives before the Close', async () => {
    const LINES = 100_000;
    const server = await serveLines(['--exec', `seq 1 ${LINES}`, '--line']);
    const ws = new WebSocket(server.url, { perMessageDeflate: false });
    ws.on('error', () => {});
    await once(ws, 'open');
    // Nothing is read for a while: the command has exited long before.
    ws.pause();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let count = 0;
    let last = '';
    ws.on('message', (data: Buffer) => {
      count++;
      last = data.toString();
    });
    const closing = once(ws, 'close') as Promise<[number, Buffer]>;
    ws.resume();
    const [code, reason] = await closing;
    assert.equal(count, LINES);
    assert.equal(last, String(LINES));
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'exit status 0');
  });

  it('a client that stops reading and vanishes frees its slot once its command was stopped', async () => {
    const server = await serveLines([
      '--exec',
      'yes',
      '--line',
      '--max-connections',
      '1',
      '--kill-after',
      '1s',
    ]);
    const ws = new WebSocket(server.url, { perMessageDeflate: false });
    ws.on('error', () => {});
    await once(ws, 'open');
    ws.pause();
    // The command's output backs up behind the client, which then goes away.
    await new Promise((resolve) => setTimeout(resolve, 500));
    ws.terminate();
    assert.equal(await upgradeStatus(server.url), 503);
    // SIGTERM 2 s after the close ends `yes`: the slot is back.
    let status = await upgradeStatus(server.url);
    const start = performance.now();
    while (status !== 101 && performance.now() - start < 8000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await upgradeStatus(server.url);
    }
    assert.equal(status, 101, 'the slot freed once the command had exited');
  });
});
