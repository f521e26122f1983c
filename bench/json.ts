/**
 * JSON-like messages for the compressed scenarios (j): the same generator for
 * every implementation, client and server, on every runtime. Each message is
 * an array of records (ids, user names, event types, timestamps, prices,
 * tags, short free text) drawn from a seeded pseudo-random generator, so
 * messages share their structure (as an application's do) but differ in
 * content: context takeover helps as it would in real traffic, and no more.
 */

/** mulberry32: a small deterministic 32-bit generator. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS = ['click', 'view', 'purchase', 'scroll', 'login', 'logout', 'search', 'share'];
const WORDS =
  'order shipped delayed refund payment card account update price stock blue red green large small fast review rating cart item city country street note'.split(
    ' ',
  );

/** Message `index` of the JSON-like stream: a JSON text of exactly `size` bytes (ASCII). */
export function jsonMessage(index: number, size: number): string {
  const r = random(index * 2654435761 + size);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const records: string[] = [];
  // Leave room for the closing bracket; the last record is cut to fit.
  let length = 1;
  for (let k = 0; length < size; k++) {
    const text = Array.from({ length: 3 + Math.floor(r() * 6) }, () => pick(WORDS)).join(' ');
    const rec = JSON.stringify({
      id: index * 1000 + k,
      user: `user-${Math.floor(r() * 100_000)}`,
      event: pick(EVENTS),
      ts: 1_760_000_000_000 + Math.floor(r() * 1e9),
      price: Math.round(r() * 100_000) / 100,
      tags: [pick(WORDS), pick(WORDS)],
      note: text,
    });
    records.push(rec);
    length += rec.length + 1;
  }
  const all = `[${records.join(',')}]`;
  // Cut to the size, keeping it JSON-like text; the closing bracket stays.
  return all.length <= size ? all.padEnd(size, ' ') : `${all.slice(0, size - 1)}]`;
}

/** `count` distinct messages of `size` bytes, messages `0 .. count - 1` of the stream. */
export function jsonPool(count: number, size: number): string[] {
  return Array.from({ length: count }, (_, i) => jsonMessage(i, size));
}
