// Heap per server connection: a heap snapshot with 0 and one with N connections
// held open by another process, and the difference per connection by constructor.
//   npm run build && node --expose-gc bench/heap/per-connection.mjs IMPL [N] [--no-snapshot]
// --no-snapshot: no snapshots (writing them grows the RSS); the heap, RSS and
// V8's young generation (new space) with N connections instead, and what each
// heap space committed per connection.
// IMPL: wsstream (serve() echoing with pipeTo), wsstream-hold (serve(), the
// handler only awaits opened), ws (WebSocketServer echoing). Snapshots go to
// .tmp/heap/; bench/heap/attribute.mjs attributes them to their owners.
import { fork } from 'node:child_process';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { mkdirSync, readFileSync } from 'node:fs';
const dir = new URL('../../.tmp/heap', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const impl = args[0] ?? 'wsstream';
const N = Number(args[1] ?? 1000);
const snapshots = !process.argv.includes('--no-snapshot');
let port;
if (impl === 'wsstream-hold') {
  const { serve } = await import(new URL('../../dist/server.js', import.meta.url).href);
  const server = await serve({ host: '127.0.0.1' }, async (c) => {
    await c.opened;
  });
  port = server.address.port;
} else if (impl === 'wsstream') {
  const { serve } = await import(new URL('../../dist/server.js', import.meta.url).href);
  const server = await serve({ host: '127.0.0.1' }, async (c) => {
    const { readable, writable } = await c.opened;
    await readable.pipeTo(writable).catch(() => {});
  });
  port = server.address.port;
} else {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
  port = wss.address().port;
}
// warm up: a few connections first, so that lazily created shared things exist
async function open(n) {
  const c = fork(new URL('hold-client.mjs', import.meta.url), [String(port), String(n)]);
  await new Promise((r) => c.once('message', r));
  await new Promise((r) => setTimeout(r, 300));
  return c;
}
const w = await open(20);
w.send('x');
await new Promise((r) => setTimeout(r, 500));
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
};
await settle();
const h0 = process.memoryUsage();
const spaces0 = getHeapSpaceStatistics();
const f0 = snapshots ? writeHeapSnapshot(`${dir}/${impl}-0.heapsnapshot`) : '';
const c = await open(N);
await settle();
const h1 = process.memoryUsage();
if (!snapshots) {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  const mb = (n) => (n / 1e6).toFixed(1);
  console.log(
    `${impl}, ${N} connections: heapUsed ${mb(h1.heapUsed)} MB (${((h1.heapUsed - h0.heapUsed) / N).toFixed(0)} B/conn), young generation ${mb(young.space_size)} MB, rss ${mb(h1.rss)} MB (${((h1.rss - h0.rss) / N).toFixed(0)} B/conn)`,
  );
  // Where the RSS went: what each heap space committed (space_size) per connection.
  const spaces = getHeapSpaceStatistics()
    .map((s, i) => [s.space_name, (s.space_size - spaces0[i].space_size) / N])
    .filter(([, bytes]) => bytes !== 0)
    .map(([name, bytes]) => `${name} ${bytes.toFixed(0)}`)
    .join(', ');
  const ext = ((h1.external - h0.external) / N).toFixed(0);
  console.log(`  committed per connection, bytes: ${spaces}; external ${ext}`);
  c.send('x');
  setTimeout(() => process.exit(0), 300);
} else {
  report();
}

function report() {
  const f1 = writeHeapSnapshot(`${dir}/${impl}-${N}.heapsnapshot`);
  console.log(
    `${impl}: heapUsed/conn ${((h1.heapUsed - h0.heapUsed) / N).toFixed(0)} B, external/conn ${((h1.external - h0.external) / N).toFixed(0)} B, arrayBuffers/conn ${((h1.arrayBuffers - h0.arrayBuffers) / N).toFixed(0)} B, rss/conn ${((h1.rss - h0.rss) / N).toFixed(0)} B`,
  );
  function agg(file) {
    const snap = JSON.parse(readFileSync(file, 'utf8'));
    const f = snap.snapshot.meta.node_fields;
    const types = snap.snapshot.meta.node_types[0];
    const nf = f.length,
      ti = f.indexOf('type'),
      ni = f.indexOf('name'),
      si = f.indexOf('self_size');
    const m = new Map();
    const nodes = snap.nodes;
    const strings = snap.strings;
    for (let i = 0; i < nodes.length; i += nf) {
      const type = types[nodes[i + ti]];
      let name = strings[nodes[i + ni]];
      if (type !== 'object' && type !== 'closure')
        name = `(${type})` + (type === 'code' || type === 'hidden' ? '' : '');
      if (type === 'closure') name = `closure ${name}`;
      const k = name.length > 60 ? name.slice(0, 60) : name;
      const e = m.get(k) ?? { count: 0, size: 0 };
      e.count++;
      e.size += nodes[i + si];
      m.set(k, e);
    }
    return m;
  }
  const a = agg(f0),
    b = agg(f1);
  const rows = [];
  for (const [k, v] of b) {
    const o = a.get(k) ?? { count: 0, size: 0 };
    rows.push([k, (v.count - o.count) / N, (v.size - o.size) / N]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  let total = 0;
  for (const r of rows) total += r[2];
  console.log(`snapshot delta per connection: ${total.toFixed(0)} B`);
  for (const r of rows.slice(0, 45))
    console.log(`${r[2].toFixed(0).padStart(7)} B ${r[1].toFixed(2).padStart(7)} x  ${r[0]}`);
  c.send('x');
  setTimeout(() => process.exit(0), 300);
}
