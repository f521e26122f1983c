// Attributes the heap objects new in snapshot B (not in A) to the nearest
// "owner" object up their retainer chain (Session, Socket, ReadableStream, ...),
// per connection. DETAIL=Owner lists what one owner holds.
//   node bench/heap/attribute.mjs .tmp/heap/wsstream-0.heapsnapshot .tmp/heap/wsstream-1000.heapsnapshot 1000
import { readFileSync } from 'node:fs';
const [fa, fb, nArg] = process.argv.slice(2);
const N = Number(nArg);
function load(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}
const A = load(fa),
  B = load(fb);
const idsA = new Set();
{
  const f = A.snapshot.meta.node_fields,
    nf = f.length,
    ii = f.indexOf('id');
  for (let i = 0; i < A.nodes.length; i += nf) idsA.add(A.nodes[i + ii]);
}
const meta = B.snapshot.meta,
  f = meta.node_fields,
  nf = f.length,
  ef = meta.edge_fields,
  enf = ef.length;
const ti = f.indexOf('type'),
  ni = f.indexOf('name'),
  ii = f.indexOf('id'),
  si = f.indexOf('self_size'),
  eci = f.indexOf('edge_count');
const types = meta.node_types[0],
  etypes = meta.edge_types[0];
const eti = ef.indexOf('type'),
  eni = ef.indexOf('name_or_index'),
  eto = ef.indexOf('to_node');
const nodes = B.nodes,
  edges = B.edges,
  S = B.strings;
const count = nodes.length / nf;
const retainer = new Int32Array(count).fill(-1);
const isNew = new Uint8Array(count);
for (let k = 0; k < count; k++) isNew[k] = idsA.has(nodes[k * nf + ii]) ? 0 : 1;
let e = 0;
for (let k = 0; k < count; k++) {
  const ec = nodes[k * nf + eci];
  for (let j = 0; j < ec; j++, e += enf) {
    const et = etypes[edges[e + eti]];
    if (et === 'weak' || et === 'shortcut') continue;
    const to = edges[e + eto] / nf;
    if (!isNew[to]) continue;
    // prefer a new retainer that is an object
    if (retainer[to] === -1 || (!isNew[retainer[to]] && isNew[k])) retainer[to] = k;
  }
}
const OWNERS = new Set(
  (
    process.env.OWNERS ??
    'Session,Socket,IncomingMessage,ServerResponse,Connection,ReadableStream,WritableStream,ReadableStreamDefaultController,WritableStreamDefaultController,ReadableStreamDefaultReader,WritableStreamDefaultWriter,WebSocketConnection,SocketTransport,FrameParser,ConnectionLifecycle,TCP,WebSocket,Receiver,Sender,Utf8Validator,ReadRelay,Promise'
  ).split(','),
);
const name = (k) => {
  const t = types[nodes[k * nf + ti]];
  const n = S[nodes[k * nf + ni]];
  return t === 'object' ? n : t === 'closure' ? `closure ${n}` : `(${t})`;
};
const by = new Map();
for (let k = 0; k < count; k++) {
  if (!isNew[k]) continue;
  let o = k,
    path = [];
  for (let d = 0; d < 12; d++) {
    const nm = name(o);
    if (types[nodes[o * nf + ti]] === 'object' && OWNERS.has(nm) && !(nm === 'Promise' && d === 0))
      break;
    const r = retainer[o];
    if (r === -1 || !isNew[r]) {
      o = -1;
      break;
    }
    o = r;
  }
  const key = o === -1 ? 'unowned (retained by old objects)' : name(o);
  const v = by.get(key) ?? { size: 0, self: 0 };
  v.size += nodes[k * nf + si];
  by.set(key, v);
}
const rows = [...by].sort((a, b) => b[1].size - a[1].size);
let t = 0;
for (const [, v] of rows) t += v.size;
console.log(`total ${(t / N).toFixed(0)} B/conn`);
for (const [k, v] of rows)
  if (v.size / N >= 20) console.log(`${(v.size / N).toFixed(0).padStart(6)} B  ${k}`);
if (process.env.DETAIL) {
  const want = process.env.DETAIL;
  const det = new Map();
  for (let k = 0; k < count; k++) {
    if (!isNew[k]) continue;
    let o = k,
      first = null;
    for (let d = 0; d < 12; d++) {
      const nm = name(o);
      if (
        types[nodes[o * nf + ti]] === 'object' &&
        OWNERS.has(nm) &&
        !(nm === 'Promise' && d === 0)
      )
        break;
      first = o;
      const r = retainer[o];
      if (r === -1 || !isNew[r]) {
        o = -1;
        break;
      }
      o = r;
    }
    if (o === -1 || name(o) !== want) continue;
    // edge name from owner to first-level child
    const key = name(k) + (first !== null && first !== k ? ` <- ${name(first)}` : '');
    const v = det.get(key) ?? 0;
    det.set(key, v + nodes[k * nf + si]);
  }
  for (const [k, v] of [...det].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`   ${(v / N).toFixed(0).padStart(5)} B  ${k}`);
}
