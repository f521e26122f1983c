/**
 * `serve --forward ADDR`: every accepted WebSocket connection gets its own
 * connection to ADDR (`tcp:HOST:PORT` or `unix:PATH`), bridged by a
 * {@link Tunnel}. The address is the operator's: nothing the client sends
 * (path, query, headers, messages) can change where the server connects.
 */
import type { WebSocketConnection } from '../server.js';
import { connectEndpoint, type Endpoint } from './endpoint.js';
import { Tunnel } from './tunnel.js';

/**
 * Bridges `connection` to a new connection to `target`, opened once the
 * WebSocket handshake has succeeded (a refused handshake costs the target
 * nothing). If the target cannot be reached, the WebSocket closes with
 * {@link TunnelCloseCode.UNREACHABLE}. Resolves when both ends have closed;
 * the tunnel is in `tunnels` meanwhile.
 */
export async function forwardConnection(
  connection: WebSocketConnection,
  target: Endpoint,
  log: (line: string) => void,
  tunnels: Set<Tunnel>,
): Promise<void> {
  try {
    await connection.opened;
  } catch {
    return; // the handshake failed: serve's log says why
  }
  const tunnel = new Tunnel(connectEndpoint(target), connection, { name: 'target', log });
  // Until its socket has closed: a shutdown waits for it, and a second signal resets it.
  tunnels.add(tunnel);
  await tunnel.done;
  tunnels.delete(tunnel);
}
