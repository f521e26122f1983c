/**
 * websocat's everyday flags on `wsstream connect`, against a `ws` server:
 * `--basic-auth`, `-0/--nul`, `-u` and `-U`, and what does not combine.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ensureBuilt, run } from './helpers.js';

let wss: WebSocketServer;
let url: string;
let behave: (ws: WebSocket, request: IncomingMessage) => void = () => {};
/** What the server received on its last connection, once that connection closed. */
let lastReceived: Promise<{ request: IncomingMessage; messages: Array<[string, boolean]> }>;

before(async () => {
  ensureBuilt();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
  wss.on('connection', (ws, request) => {
    const messages: Array<[string, boolean]> = [];
    ws.on('message', (data: RawData, binary: boolean) =>
      messages.push([(data as Buffer).toString(), binary]),
    );
    lastReceived = new Promise((resolve) => ws.on('close', () => resolve({ request, messages })));
    behave(ws, request);
  });
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

describe('connect flags', () => {
  it('--basic-auth USER:PASS sends Authorization: Basic (UTF-8, base64)', async () => {
    behave = (ws) => ws.close(1000);
    const r = await run(['connect', '--basic-auth', 'zoë:pa:ss', url], '');
    assert.equal(r.code, 0, r.stderr);
    const { request } = await lastReceived;
    assert.equal(
      request.headers.authorization,
      `Basic ${Buffer.from('zoë:pa:ss', 'utf8').toString('base64')}`,
    );
  });

  it('--basic-auth without a colon, or beside -H Authorization, is a usage error', async () => {
    const a = await run(['connect', '--basic-auth', 'alice', url], '');
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--basic-auth: expected USER:PASSWORD/);
    const b = await run(
      ['connect', '--basic-auth', 'a:b', '-H', 'Authorization: Bearer x', url],
      '',
    );
    assert.equal(b.code, 2);
    assert.match(b.stderr, /exclude each other/);
  });

  it('-0: NUL-separated text messages both ways, newlines kept inside', async () => {
    behave = (ws) => {
      let n = 0;
      ws.on('message', (data: RawData) => {
        ws.send(`got:${(data as Buffer).toString()}`);
        if (++n === 2) ws.close(1000);
      });
    };
    const r = await run(['connect', '-0', url], 'one\ntwo\0three\0');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await lastReceived).messages, [
      ['one\ntwo', false],
      ['three', false],
    ]);
    assert.equal(r.stdout.toString(), 'got:one\ntwo\0got:three\0');
    const clash = await run(['connect', '--nul', '--binary', url], '');
    assert.equal(clash.code, 2);
  });

  it('-u: only stdin to the connection; what arrives is not printed; stdin EOF closes', async () => {
    behave = (ws) => ws.send('not for stdout');
    const r = await run(['connect', '-u', '--binary', url], 'upload');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 0);
    assert.deepEqual((await lastReceived).messages, [['upload', true]]);
    assert.match(r.stderr, /closed: code 1000/);
  });

  it('-U: only the connection to stdout; stdin is not read', async () => {
    behave = (ws) => {
      ws.send('down');
      setTimeout(() => ws.close(1000), 300);
    };
    const r = await run(['connect', '-U', '--binary', url], 'never sent');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'down');
    assert.deepEqual((await lastReceived).messages, []);
  });

  it('-u with -U, and --listen with a stdin/stdout option, are usage errors', async () => {
    const both = await run(['connect', '-u', '-U', url], '');
    assert.equal(both.code, 2);
    const listen = await run(['connect', '--listen', 'tcp:0', '--line', url], '');
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /--line is about stdin and stdout/);
    const bad = await run(['connect', '--listen', 'udp:1', url], '');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--listen: "udp:1" is not tcp:HOST:PORT or unix:PATH/);
  });
});
