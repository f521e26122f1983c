// Heap per server connection: a heap snapshot with 0 and one with N connections
// held open by another process, and the difference per connection by constructor.
//   npm run build && node --expose-gc bench/heap/per-connection.mjs IMPL [N] [--no-snapshot]
// --no-snapshot: no snapshots (writing them grows the RSS); the heap, RSS and
// V8's young generation (new space) with N connections instead, and what each
// heap space committed per connection.
// IMPL: wsstream (serve() echoing with pipeTo), wsstream-hold (serve(), the
// handler only awaits opened), ws (WebSocketServer echoing). Snapshots go to
// .tmp/heap/; bench/heap/attribute.mjs attributes them to their owners.
// --warm=K: open K connections (default 20) and close them before the
// baseline, so that V8 has tiered up the connection path's functions by then.
// The RSS per connection includes one-time costs: on Node 24 Maglev compiles
// the functions that turn hot while the N connections open, and the memory
// of those compile jobs stays in the malloc heaps (freed, not returned to the
// system: wsstream about 24 MB, ws about 10 MB, the same at N = 1,000 or
// 4,000); --no-snapshot splits the RSS into V8's pages, malloc and file pages
// (Linux). Compare two N, or warm up with N, for what one connection costs.
import { fork } from 'node:child_process';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { mkdirSync, readFileSync } from 'node:fs';
const dir = new URL('../../.tmp/heap', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const warm = Number(
  process.argv.find((a) => a.startsWith('--warm='))?.slice('--warm='.length) ?? 20,
);
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
const w = await open(warm);
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
const maps0 = residentByKind();
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
  const maps1 = residentByKind();
  if (maps0 && maps1) {
    const kinds = Object.keys(maps1)
      .map((k) => `${k} ${((maps1[k] - (maps0[k] ?? 0)) / N).toFixed(0)}`)
      .join(', ');
    console.log(`  resident per connection, bytes: ${kinds}`);
  }
  c.send('x');
  setTimeout(() => process.exit(0), 300);
} else {
  report();
}

/**
 * The process's resident memory by kind of mapping (/proc/self/smaps, Linux;
 * null elsewhere): file pages (the node binary's code first run, such as a
 * JIT compiler's), malloc (the main heap and the threads' 64 MB-aligned
 * arenas) and the other anonymous mappings (V8's heap pages, code space).
 */
function residentByKind() {
  let text;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const kinds = { 'v8 pages and other anonymous': 0, malloc: 0, file: 0 };
  let kind = null;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1], 16);
      const size = parseInt(head[2], 16) - start;
      const name = head[3];
      kind =
        name === '[heap]' || (name === '' && start % 0x4000000 === 0 && size <= 0x4000000)
          ? 'malloc'
          : name.startsWith('/')
            ? 'file'
            : name === ''
              ? 'v8 pages and other anonymous'
              : null;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) kinds[kind] += Number(rss[1]) * 1024;
  }
  return kinds;
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
