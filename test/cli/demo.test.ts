/**
 * `wsstream demo` (`npm start`): the sender is held to the slow consumer's
 * pace, which its own lines show. Whatever the data, what has been sent can
 * run ahead of what was read by no more than the kernel's socket buffers and
 * the little wsstream holds.
 */
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { ensureBuilt, run } from './helpers.js';
import { kernelMax, MiB } from './tunnel-helpers.js';

before(() => ensureBuilt());

it('the slow phase: sent runs ahead of read by at most the socket buffers, and every byte arrives', async () => {
  const slowMb = 96; // 3 s at 32 MiB/s: a few samples, one a second
  const { code, stdout, stderr } = await run([
    'demo',
    '--slow-mb',
    String(slowMb),
    '--fast-mb',
    '16',
  ]);
  const text = stdout.toString();
  assert.equal(code, 0, `${text}\n${stderr}`);
  assert.match(text, /Every byte arrived/);
  const samples = [...text.matchAll(/^slow sent +([\d.]+) MiB +read +([\d.]+) MiB/gm)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  // The last line is the final one (everything sent and read); the others are live.
  const live = samples.slice(0, -1);
  assert.ok(live.length >= 1, text);
  // Both TCP buffers of the connection (the sender's and the receiver's), the 320 KiB or so
  // held in user space, and a MiB for the time between the two counts of a sample.
  const bound = (kernelMax('tcp_wmem') + kernelMax('tcp_rmem')) / MiB + 2;
  for (const [sent, read] of live) {
    assert.ok(
      sent! - read! <= bound,
      `sent ${sent} MiB while ${read} MiB were read (bound ${bound})`,
    );
  }
  // With the largest buffers a kernel may grant (tcp_rmem's maximum is 32 MiB on many
  // machines), the sender may finish before the reader does; the first sample, taken
  // while the consumer has read a few MiB, must still show it held back.
  assert.ok(
    live.some(([sent]) => sent! < slowMb),
    `the sender was never seen held back:\n${text}`,
  );
});
