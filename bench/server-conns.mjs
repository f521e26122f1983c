// The (g) 1,000-connection scenario alone, for before/after comparisons of the
// server: opens COUNT connections to server-app.js with the raw client of
// client.ts (at most 100 handshakes at once), runs ROUNDS strict echo round
// trips on all of them, reads the server's RSS while they are held, closes
// them; reports open/s, round trips/s, RSS and the server's CPU for the whole
// scenario, then medians and ratios to the last implementation. Each server
// runs in a fresh process and is warmed up with --warmup=N connections first
// (100; a few thousand to measure code the JIT has optimized).
// --cpu-prof: a CPU profile of each server during the measured scenario only,
// written to .tmp/prof/cpu-IMPL-PID.cpuprofile (profile-summary.js prints it).
// --alloc-prof: the bytes each server allocates per connection during the
// scenario (collected or not), in total and by function, the top --top=N;
// the whole profile goes to .tmp/prof/alloc-IMPL-PID.heapprofile.
//   npm run bench -- --only=h --quick      # builds dist/ and .tmp/bench-build/
//   node bench/server-conns.mjs [--node=PATH] [--impls=wsstream,ws] [--runs=3] [--count=1000] [--rounds=10] [--warmup=100] [--cpu-prof [--cpu-prof-interval=100]] [--alloc-prof [--top=30]] [--server-flags='--trace-gc ...']
// An implementation written DIR:impl runs DIR/.tmp/bench-build/server-app.js
// (another checkout of wsstream, built the same way): the code before a change.
import { fork } from 'node:child_process';
import { resolve } from 'node:path';

const flag = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const nodeBin = flag('node', process.execPath);
const impls = flag('impls', 'wsstream,ws').split(',');
const runs = Number(flag('runs', 3));
const count = Number(flag('count', 1000));
const rounds = Number(flag('rounds', 10));
const prof = process.argv.includes('--cpu-prof');
// Microseconds between samples (V8's default is 1,000: too coarse for a few ms per phase).
const profInterval = Number(flag('cpu-prof-interval', 100));
const allocProf = process.argv.includes('--alloc-prof');
const warmup = Number(flag('warmup', 100));
// Extra node flags for the server processes only, space-separated: --server-flags=--trace-gc
const serverFlags = flag('server-flags', '').split(' ').filter(Boolean);
const top = Number(flag('top', 30));
const build = (root) => resolve(root, '.tmp/bench-build') + '/';
const here = build(new URL('..', import.meta.url).pathname);

function startServer(spec) {
  const at = spec.lastIndexOf(':');
  const dir = at > 0 ? build(spec.slice(0, at)) : here;
  const impl = at > 0 ? spec.slice(at + 1) : spec;
  const child = fork(dir + 'server-app.js', [impl], {
    execPath: nodeBin,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: serverFlags,
  });
  let waiter = null;
  // Asks the server for something and resolves with its answer of the same type.
  const ask = (type, extra) =>
    new Promise((r) => {
      waiter = r;
      child.send({ type, ...extra });
    });
  return new Promise((ready) => {
    child.on('message', (m) => {
      if (m.type === 'ready') {
        ready({ child, port: m.port, cpu: () => ask('cpu'), ask });
      } else {
        waiter?.(m);
        waiter = null;
      }
    });
  });
}

async function conns(server, params) {
  const job = { impl: 'ref', scenario: 'conns', base: `ws://127.0.0.1:${server.port}`, params };
  const child = fork(here + 'client.js', [JSON.stringify(job)], {
    execPath: nodeBin,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let rss = 0;
  let young = 0;
  let result;
  const c0 = await server.cpu();
  await new Promise((done) => {
    child.on('message', async (m) => {
      if (m.type === 'holding') {
        ({ rss, young } = await server.cpu());
        child.send({ type: 'release' });
      } else if (m.type === 'result') result = m.result;
      else if (m.type === 'error') console.error(m.message);
    });
    child.once('exit', done);
  });
  const c1 = await server.cpu();
  return { ...result, rss, young, cpu: (c1.user + c1.system - c0.user - c0.system) / 1e3 };
}

const results = new Map(impls.map((i) => [i, []]));
for (let run = 0; run < runs; run++) {
  for (const impl of impls) {
    const server = await startServer(impl);
    // In steps of at most 1,000: the client opens them all before closing any.
    for (let left = warmup; left > 0; left -= 1000)
      await conns(server, { count: Math.min(left, 1000), rounds: 2 });
    if (allocProf) await server.ask('alloc-start');
    if (prof) await server.ask('cpu-start', { interval: profInterval });
    const o = await conns(server, { count, rounds });
    if (prof) console.log(`${impl}: CPU profile ${(await server.ask('cpu-stop')).file}`);
    if (allocProf) {
      const { sites } = await server.ask('alloc-stop');
      const total = sites.reduce((sum, [, bytes]) => sum + bytes, 0);
      console.log(
        `${impl}: ${(total / count).toFixed(0)} B allocated per connection, by function:`,
      );
      for (const [site, bytes] of sites.slice(0, top))
        console.log(`${(bytes / count).toFixed(0).padStart(8)} B  ${site}`);
    }
    results.get(impl).push(o);
    console.log(
      `${impl}: open ${o.openPerSec.toFixed(0)}/s, ping-pong ${o.echoPerSec.toFixed(0)} msg/s, RSS ${(o.rss / 1e6).toFixed(1)} MB (young generation ${(o.young / 1e6).toFixed(1)}), server CPU ${o.cpu.toFixed(0)} ms`,
    );
    server.child.disconnect();
    await new Promise((r) => server.child.once('exit', r));
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const summary = (impl) => {
  const a = results.get(impl);
  return {
    open: median(a.map((o) => o.openPerSec)),
    pingpong: median(a.map((o) => o.echoPerSec)),
    rss: median(a.map((o) => o.rss)) / 1e6,
    young: median(a.map((o) => o.young)) / 1e6,
    cpu: median(a.map((o) => o.cpu)),
  };
};
const last = summary(impls.at(-1));
for (const impl of impls) {
  const s = summary(impl);
  console.log(
    `median ${impl}: open ${s.open.toFixed(0)}/s (${(s.open / last.open).toFixed(2)}), ping-pong ${s.pingpong.toFixed(0)} msg/s (${(s.pingpong / last.pingpong).toFixed(2)}), RSS ${s.rss.toFixed(1)} MB (${(s.rss / last.rss).toFixed(2)}; young generation ${s.young.toFixed(1)} MB), server CPU ${s.cpu.toFixed(0)} ms (${(s.cpu / last.cpu).toFixed(2)})`,
  );
}
