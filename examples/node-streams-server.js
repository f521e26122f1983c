// A server whose connections are Node Duplex streams: each one is piped
// through a Transform that upper-cases text messages and back to the client.
//
//   npm run build && node examples/node-streams-server.js
//   npx wsstream connect --line ws://127.0.0.1:8080/
//
// Backpressure holds through pipeline(): a client that stops reading stops
// the Transform, which stops reading that client's messages, which pauses its
// socket.
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { toDuplex } from 'wsstream';
import { serve } from 'wsstream/server';

const server = await serve({ host: '127.0.0.1', port: 8080 }, async (connection) => {
  const socket = toDuplex(connection);
  const upper = new Transform({
    objectMode: true,
    transform(message, _encoding, callback) {
      // Text stays text (a string), binary stays binary (a Buffer).
      callback(null, typeof message === 'string' ? message.toUpperCase() : message);
    },
  });
  await pipeline(socket, upper, socket).catch(() => {});
});
console.log(`listening on ${server.url}`);
process.once('SIGINT', () => void server.close());
