// Opens argv[3] raw WebSocket connections to port argv[2] (handshake only), reports, and holds them until told.
import { connect } from 'node:net';
const port = Number(process.argv[2]);
const n = Number(process.argv[3]);
const sockets = [];
for (let i = 0; i < n; i++) {
  await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () =>
      s.write(
        `GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    s.once('data', () => resolve());
    s.once('error', reject);
    sockets.push(s);
  });
}
process.send({ type: 'open' });
process.on('message', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
