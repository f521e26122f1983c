/**
 * SHA-1 (FIPS 180-4), needed only to compute Sec-WebSocket-Accept (RFC 6455
 * 4.2.2). Synchronous and portable, so the handshake stays sans-I/O. Every
 * handshake computes one (both sides), so it works in reused scratch
 * buffers: a digest of an accept key's 60 bytes allocates only its result.
 */

/** Message schedule, reused by every call. */
const w = new Int32Array(80);
/** Padded input of up to two blocks (an accept key's 60 bytes need two), reused. */
const scratch = new Uint8Array(128);

/** The 20-byte SHA-1 digest of `data`. */
export function sha1(data: Uint8Array): Uint8Array {
  const length = data.length;
  const padded = (((length + 8) >>> 6) + 1) << 6;
  const block = padded <= scratch.length ? scratch : new Uint8Array(padded);
  block.set(data);
  block[length] = 0x80;
  block.fill(0, length + 1, padded - 8);
  // The length in bits, big-endian, in the last 8 bytes.
  const hi = Math.floor(length / 0x20000000);
  const lo = (length * 8) >>> 0;
  block[padded - 8] = hi >>> 24;
  block[padded - 7] = (hi >>> 16) & 0xff;
  block[padded - 6] = (hi >>> 8) & 0xff;
  block[padded - 5] = hi & 0xff;
  block[padded - 4] = lo >>> 24;
  block[padded - 3] = (lo >>> 16) & 0xff;
  block[padded - 2] = (lo >>> 8) & 0xff;
  block[padded - 1] = lo & 0xff;

  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let offset = 0; offset < padded; offset += 64) {
    for (let i = 0, j = offset; i < 16; i++, j += 4) {
      w[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const h = [h0, h1, h2, h3, h4];
  for (let i = 0; i < 5; i++) {
    const v = h[i]!;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = (v >>> 16) & 0xff;
    out[i * 4 + 2] = (v >>> 8) & 0xff;
    out[i * 4 + 3] = v & 0xff;
  }
  return out;
}
