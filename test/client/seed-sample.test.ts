/**
 * The MDN sample client ("Full listing" of the WebSocketStream guide) run
 * unchanged on Node against a ws ping/pong server. Only its DOM calls are
 * replaced: the output <div> is an array of lines, the close <button> an
 * EventTarget the test clicks, `self` is globalThis, and the URL points at
 * the test server. Its `setTimeout(..., 5000)` loop is kept as written and
 * driven by node:test's mock timers, so the test takes milliseconds.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import '../../src/global.js';
import { delay, startWsServer, waitUntil, wsData } from './helpers.js';

/** The sample, as written, with the DOM replaced (see the file comment). */
function runSample(
  wsURL: string,
  output: string[],
  closeBtn: EventTarget & { disabled: boolean },
): void {
  const self = globalThis;

  function writeToScreen(message: string): void {
    output.push(message);
  }

  if (!('WebSocketStream' in self)) {
    writeToScreen('Your browser does not support WebSocketStream');
  } else {
    const wss = new WebSocketStream(wsURL);

    console.log(wss.url);

    async function start(): Promise<void> {
      const { readable, writable, extensions, protocol } = await wss.opened;
      void extensions;
      void protocol;
      writeToScreen('CONNECTED');
      closeBtn.disabled = false;
      const reader = readable.getReader();
      const writer = writable.getWriter();

      // eslint-disable-next-line @typescript-eslint/no-floating-promises -- as written in the sample
      writer.write('ping');
      writeToScreen('SENT: ping');

      while (true) {
        const { value, done } = await reader.read();
        writeToScreen(`RECEIVED: ${value as string}`);
        if (done) {
          break;
        }

        setTimeout(() => {
          // eslint-disable-next-line @typescript-eslint/no-floating-promises -- as written in the sample
          writer.write('ping');
          writeToScreen('SENT: ping');
        }, 5000);
      }
    }

    // eslint-disable-next-line @typescript-eslint/no-floating-promises -- as written in the sample
    start();

    // eslint-disable-next-line @typescript-eslint/no-floating-promises -- as written in the sample
    wss.closed.then((result) => {
      writeToScreen(`DISCONNECTED: code ${result.closeCode}, message "${result.reason}"`);
      console.log('Socket closed', result.closeCode, result.reason);
    });

    closeBtn.addEventListener('click', () => {
      wss.close({
        code: 1000,
        reason: "That's all folks",
      } as never);

      closeBtn.disabled = true;
    });
  }
}

void it(
  'the MDN sample client: ping, pong, close with the legacy code key',
  { timeout: 30_000 },
  async (t) => {
    const server = await startWsServer();
    const serverClose = new Promise<[number, string]>((resolve) => {
      server.wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => {
          if (!isBinary && wsData(data).toString() === 'ping') ws.send('pong');
        });
        ws.on('close', (code, reason) => resolve([code, reason.toString()]));
      });
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const output: string[] = [];
      const closeBtn = Object.assign(new EventTarget(), { disabled: true });
      const count = (line: string): number => output.filter((l) => l === line).length;

      runSample(server.url, output, closeBtn);
      await waitUntil(() => count('RECEIVED: pong') === 1, 5000, 'first pong');
      assert.equal(closeBtn.disabled, false);
      t.mock.timers.tick(5000); // the sample's 5 s timer: second ping
      await waitUntil(() => count('RECEIVED: pong') === 2, 5000, 'second pong');

      closeBtn.dispatchEvent(new Event('click'));
      assert.equal(closeBtn.disabled, true);
      await waitUntil(() => output.some((l) => l.startsWith('DISCONNECTED')), 5000, 'disconnected');
      assert.deepEqual(await serverClose, [1000, "That's all folks"]);

      await delay(10);
      assert.deepEqual(output, [
        'CONNECTED',
        'SENT: ping',
        'RECEIVED: pong',
        'SENT: ping',
        'RECEIVED: pong',
        'RECEIVED: undefined',
        `DISCONNECTED: code 1000, message "That's all folks"`,
      ]);
      assert.deepEqual(unhandled, []);
      // The timer armed by the last pong is still pending: firing it would make
      // the sample write after the close, a rejected write it leaves unhandled
      // (in a browser too; close.test.ts checks such writes reject with
      // InvalidStateError). Resetting the mock timers below drops it.
    } finally {
      t.mock.timers.reset();
      process.off('unhandledRejection', onUnhandled);
      await server.close();
    }
  },
);
