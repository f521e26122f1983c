/**
 * What a peer sends reaches a terminal raw only when --binary asked for it.
 * Binary mode chosen because stdin is a pipe (`echo hi | wsstream connect
 * URL`) still prints escaped lines to a terminal, while a pipe on stdout keeps
 * getting the messages' bytes unchanged.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type RawData } from 'ws';
import { chooseModes, type ModeChoice } from '../../src/cli/modes.js';
import { BIN, ensureBuilt, run } from './helpers.js';

describe('chooseModes', () => {
  const none: ModeChoice = {
    line: false,
    binary: false,
    nul: false,
    stdinIsTTY: false,
    stdoutIsTTY: false,
  };
  it('stdin a pipe, stdout a terminal: binary chunks in, escaped lines out', () => {
    assert.deepEqual(chooseModes({ ...none, stdoutIsTTY: true }), {
      lineInput: false,
      output: 'escaped',
    });
  });
  it('--binary (or --raw) asked for: raw bytes, to a terminal too', () => {
    assert.deepEqual(chooseModes({ ...none, binary: true, stdoutIsTTY: true }), {
      lineInput: false,
      output: 'raw',
    });
    assert.deepEqual(chooseModes({ ...none, binary: true, stdinIsTTY: true, stdoutIsTTY: true }), {
      lineInput: false,
      output: 'raw',
    });
  });
  it('stdout a pipe or a file: unchanged as before, raw bytes in binary mode', () => {
    assert.deepEqual(chooseModes(none), { lineInput: false, output: 'raw' });
    assert.deepEqual(chooseModes({ ...none, binary: true }), { lineInput: false, output: 'raw' });
    assert.deepEqual(chooseModes({ ...none, stdinIsTTY: true }), {
      lineInput: true,
      output: 'lines',
    });
  });
  it('line mode (by default on a terminal, --line, -0): escaped exactly when stdout is a terminal', () => {
    for (const choice of [{ stdinIsTTY: true }, { line: true }, { nul: true }]) {
      assert.deepEqual(chooseModes({ ...none, ...choice, stdoutIsTTY: true }), {
        lineInput: true,
        output: 'escaped',
      });
      assert.deepEqual(chooseModes({ ...none, ...choice }), { lineInput: true, output: 'lines' });
    }
  });
});

// An OSC that sets the window title, a screen clear, and bytes that are not UTF-8.
const HOSTILE_TEXT = '\u001b]0;pwned\u0007\u001b[2Jtext';
const HOSTILE_BYTES = Buffer.from([0x41, 0x00, 0x1b, 0x5b, 0x48, 0xff, 0x0a, 0x42]);

let wss: WebSocketServer;
let url: string;
/** What each connection sent, as [bytes, binary]. */
let received: Promise<Array<[string, boolean]>>;

before(async () => {
  ensureBuilt();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
  wss.on('connection', (ws) => {
    // Answers the first message, so the client's stdin went out before the Close.
    received = new Promise((resolve) => {
      ws.once('message', (data: RawData, binary: boolean) => {
        ws.send(HOSTILE_TEXT);
        ws.send(HOSTILE_BYTES, { binary: true });
        ws.close(1000);
        resolve([[Buffer.from(data as Buffer).toString(), binary]]);
      });
    });
  });
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

const needsScript = {
  skip:
    spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0
      ? false
      : 'needs script(1) for a pseudo-terminal',
};

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `printf hello | wsstream <args>` with its stdout (and stderr) a
 * terminal: a pseudo-terminal from script(1). Resolves with what reached the
 * terminal, the terminal's CRLF line ends made LF.
 */
async function onTerminal(args: string[]): Promise<{ code: number | null; screen: Buffer }> {
  const command = `printf hello | ${[process.execPath, BIN, ...args].map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const [code] = (await once(child, 'close')) as [number | null];
  const crlf = Buffer.concat(chunks);
  const bytes: number[] = [];
  for (let i = 0; i < crlf.length; i++) {
    if (!(crlf[i] === 0x0d && crlf[i + 1] === 0x0a)) bytes.push(crlf[i]!);
  }
  return { code, screen: Buffer.from(bytes) };
}

describe('connect, binary by default because stdin is a pipe', () => {
  it(
    'stdout a terminal: stdin still goes out as a binary chunk, messages are printed as escaped lines',
    needsScript,
    async () => {
      const { code, screen } = await onTerminal(['connect', url]);
      assert.equal(code, 0, screen.toString());
      assert.deepEqual(await received, [['hello', true]]);
      const text = screen.toString('latin1');
      assert.ok(!text.includes('\u001b') && !text.includes('\u0007'), JSON.stringify(text));
      assert.ok(text.includes('\\x1b]0;pwned\\x07\\x1b[2Jtext\n'), JSON.stringify(text));
      assert.ok(text.includes('A\\x00\\x1b[H\\xff\\nB\n'), JSON.stringify(text));
      assert.ok(text.includes('--binary for the raw bytes'), 'a hint on stderr');
    },
  );

  it('stdout a terminal with --binary asked for: the bytes as they came', needsScript, async () => {
    const { code, screen } = await onTerminal(['connect', '--binary', url]);
    assert.equal(code, 0, screen.toString());
    assert.deepEqual(await received, [['hello', true]]);
    assert.ok(
      screen.includes(Buffer.concat([Buffer.from(HOSTILE_TEXT), HOSTILE_BYTES])),
      JSON.stringify(screen.toString('latin1')),
    );
    assert.ok(!screen.toString('latin1').includes('escaped'), 'no hint');
  });

  it('stdout a pipe: the messages byte-exact, nothing added', async () => {
    const r = await run(['connect', url], 'hello');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await received, [['hello', true]]);
    assert.deepEqual(r.stdout, Buffer.concat([Buffer.from(HOSTILE_TEXT), HOSTILE_BYTES]));
    assert.ok(!r.stderr.includes('escaped'), r.stderr);
  });
});
