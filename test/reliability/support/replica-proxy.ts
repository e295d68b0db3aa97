/**
 * A TCP proxy to a PostgreSQL server, standing in for a replica that can be taken away: `cut()` closes the listener
 * and destroys every connection through it (in-flight queries fail like on a crashed server, new ones are refused);
 * `restore()` listens again on the same port. Pointed at the primary itself, it is a replica with no lag, which the
 * library recognises as such (same cluster, same start time).
 */
import { type Server, type Socket, createConnection, createServer } from 'node:net';

export interface ReplicaProxy {
  readonly port: number;
  /** Connections opened through it so far. */
  readonly connections: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startReplicaProxy(target: { host: string; port: number }): Promise<ReplicaProxy> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const make = (): Server =>
    createServer((client) => {
      connections++;
      const upstream = createConnection(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => (socket === client ? upstream : client).destroy()); // the other side sees the cut
      }
      client.pipe(upstream).pipe(client);
    });
  let server = make();
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as { port: number }).port;
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    get connections() {
      return connections;
    },
    cut: stop,
    restore: async () => {
      server = make();
      await listen(port);
    },
    close: stop,
  };
}
