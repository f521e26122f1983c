// Pipe stdin to a WebSocket server and its messages to stdout, with Node streams.
//
//   npm run build && node examples/node-streams-pipe.js ws://127.0.0.1:8080/ < file
//
// write() returns false while the socket cannot take more, so the pipe stops
// reading stdin; a blocked stdout stops reading the socket. Memory stays flat
// whatever the sizes and speeds. Ctrl-C closes the connection with 1000.
import { toDuplex, WebSocketStream } from 'wsstream';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080/';
const ws = new WebSocketStream(url);
// Received text is given as Buffers, so stdout gets bytes either way.
const socket = toDuplex(ws, { textAs: 'buffer' });
// Strings are sent as text messages, Buffers as binary: decoding stdin sends text.
// (Leave this out to send stdin's bytes as binary messages.)
process.stdin.setEncoding('utf8');
socket.on('error', (error) => console.error(error.message));

// The end of stdin does not close: the server's replies may still be on their
// way, and a Close would cut them short. Ctrl-C (or the server) closes.
process.stdin.pipe(socket, { end: false });
socket.pipe(process.stdout);
process.once('SIGINT', () => socket.end()); // the Close follows every queued byte

const { closeCode, reason } = await ws.closed;
console.error(`closed: ${closeCode} ${reason}`);
process.exit(0);
