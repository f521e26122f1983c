/**
 * An SSH-like session through a tunnel: both ends send random bytes at the
 * same time, full duplex, through `connect --listen` and `serve --forward`
 * (two wsstream processes, three TCP connections), and each end's SHA-256
 * of what it received matches the other end's SHA-256 of what it sent.
 *
 * 256 MiB each way by default; WSSTREAM_TUNNEL_MIB changes the size.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ensureBuilt, procStatus, type Served } from './helpers.js';
import {
  dial,
  forwardPair,
  howItEnds,
  MiB,
  receiveHashed,
  sendRandom,
  tcpTarget,
  type Listener,
} from './tunnel-helpers.js';

const SIZE = Number(process.env.WSSTREAM_TUNNEL_MIB ?? 256) * MiB;

let target: Awaited<ReturnType<typeof tcpTarget>>;
let pair: Awaited<ReturnType<typeof forwardPair>>;
let server: Served;
let listener: Listener;
/** The target's view of the one session: SHA-256 of what it sent and of what it received. */
let targetSide!: Promise<{ sent: string; received: string; ending: string }>;

before(async () => {
  ensureBuilt();
  let resolveSide!: (side: { sent: string; received: string; ending: string }) => void;
  targetSide = new Promise((resolve) => (resolveSide = resolve));
  target = await tcpTarget((s) => {
    const ending = howItEnds(s);
    void Promise.all([sendRandom(s, SIZE), receiveHashed(s, SIZE)]).then(
      async ([sent, received]) => {
        // The client closes first once it has everything; the target's FIN answers it.
        const how = await ending;
        s.end();
        resolveSide({ sent, received, ending: how });
      },
    );
  });
  pair = await forwardPair(target.port);
  ({ server, listener } = pair);
});
after(async () => {
  await pair.stop();
  await target.close();
});

it(`${SIZE / MiB} MiB each way at once through connect --listen and serve --forward: SHA-256 identical both ways`, async (t) => {
  const baseline = {
    listen: procStatus(listener.child.pid!, 'VmRSS'),
    serve: procStatus(server.child.pid!, 'VmRSS'),
  };
  const started = performance.now();
  const c = await dial(listener.port);
  const [sent, received] = await Promise.all([sendRandom(c, SIZE), receiveHashed(c, SIZE)]);
  const ending = howItEnds(c);
  c.end();
  assert.equal(await ending, 'end');
  const side = await targetSide;
  const seconds = (performance.now() - started) / 1000;
  const peak = {
    listen: procStatus(listener.child.pid!, 'VmHWM') - baseline.listen,
    serve: procStatus(server.child.pid!, 'VmHWM') - baseline.serve,
  };
  t.diagnostic(
    `${(2 * SIZE) / MiB} MiB in ${seconds.toFixed(1)} s (${((2 * SIZE) / MiB / seconds).toFixed(0)} MiB/s both ways together); ` +
      `peak RSS above idle: listen ${(peak.listen / MiB).toFixed(1)} MiB, serve ${(peak.serve / MiB).toFixed(1)} MiB`,
  );
  assert.equal(side.received, sent, 'client -> target: byte-identical');
  assert.equal(received, side.sent, 'target -> client: byte-identical');
  assert.equal(side.ending, 'end', 'the target saw a FIN, not a reset');
  // Garbage Buffers wait for V8's collector (see pipe.test.ts): peaks of 90 to
  // 100 MiB on Node 26 with every build; live data is a few hundred KiB, and a
  // tunnel that buffered one direction would pass 256 MiB.
  assert.ok(peak.listen < 128 * MiB, `listen peak ${(peak.listen / MiB).toFixed(1)} MiB`);
  assert.ok(peak.serve < 128 * MiB, `serve peak ${(peak.serve / MiB).toFixed(1)} MiB`);
});
