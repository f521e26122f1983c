/**
 * A `ws` client on Node, the peer of the runtime suite's "flood a server
 * that does not read" cases (test/runtimes/tls-server.js): whatever runtime
 * the server runs on, the client is the `ws` package on Node's own TLS.
 *
 *   node test/runtimes/ws-flood-peer.mjs <url> <ca.pem> <count> <size> <compress 0|1>
 *
 * Sends <count> binary messages of <size> bytes at once (byte 0 of message
 * i is i; the rest random letters with compression, else random bytes) and
 * prints "open", then "written <n>" each time the socket took one more
 * message (with compression, as ws's defaults: with context takeover). On
 * "close" from stdin it closes with 1000 and exits once closed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [url, caPath, countText, sizeText, compressText] = process.argv.slice(2);
const count = Number(countText);
const size = Number(sizeText);
const compress = compressText === '1';
const alphabet = Buffer.from('abcdefghijklmnop');

// ws's defaults: with context takeover, so a message refers back into the
// ones before it (on Deno, wsstream carries that history without the preset
// dictionary its node:zlib ignores).
const client = new WebSocket(url, {
  ca: readFileSync(caPath),
  perMessageDeflate: compress,
});
client.on('error', (error) => {
  console.error(`error ${error.message}`);
  process.exit(2);
});
client.on('open', () => {
  console.log('open');
  let written = 0;
  for (let i = 0; i < count; i++) {
    const message = randomBytes(size);
    if (compress) for (let j = 0; j < size; j++) message[j] = alphabet[message[j] & 15];
    message[0] = i;
    client.send(message, { binary: true }, (error) => {
      if (!error) console.log(`written ${++written}`);
    });
  }
});
client.on('close', () => process.exit(0));
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'close') client.close(1000);
});
