import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { POOL_MAX } from '../scenarios.js';
import type { RunningServer } from './protocol.js';

/** Scenario 1, the ceiling: node:http and a pg Pool, the same two queries as every other server, nothing else. */
export async function startBarePg(url: string): Promise<RunningServer> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX });
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url.startsWith('/items/')) {
      const id = Number(url.slice('/items/'.length));
      const { rows } = await pool.query('select "id", "tenant", "title" from "item" where "id" = $1 limit 1', [id]);
      if (rows[0]) send(res, 200, rows[0]);
      else send(res, 404, { message: 'not found' });
      return;
    }
    if (req.method === 'POST' && url === '/items') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { title: string; tenant: string };
      const { rows } = await pool.query('insert into "item" ("tenant", "title") values ($1, $2) returning "id"', [body.tenant, body.title]);
      send(res, 201, { id: rows[0]?.id, tenant: body.tenant, title: body.title });
      return;
    }
    send(res, 404, { message: 'not found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
