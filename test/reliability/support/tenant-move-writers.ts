/**
 * Clients writing to a tenant while it moves, like app instances that have not heard of the fence: each writes
 * where the record pointed when it last looked, and looks again after any error, then retries the same write.
 * Every acknowledged write is recorded, so the test can check that none is lost on the target.
 */
import pg from 'pg';
import { CUSTOMERS, type MoveWorld, recordSide } from './tenant-move-world.js';

interface Acks {
  /** Notes of the acknowledged order inserts. */
  readonly notes: string[];
  /** Acknowledged visit increments, per customer id. */
  readonly visits: Map<number, number>;
  /** When each write was acknowledged (performance.now()). */
  readonly times: number[];
}

export class MoveWriters {
  readonly acks: Acks = { notes: [], visits: new Map(), times: [] };
  /** Errors seen, by SQLSTATE (or message when none). */
  readonly errors = new Map<string, number>();
  #running = true;
  readonly #pools: Record<'source' | 'target', pg.Pool>;
  readonly #loops: Promise<void>[] = [];

  /** `prefix` starts the note of each insert (distinct per batch of writers on one tenant: notes are unique). */
  constructor(private readonly world: MoveWorld, private readonly schema: string, writers: number, readonly prefix = 'w') {
    this.#pools = { source: new pg.Pool({ connectionString: world.sourceUrl, max: writers }), target: new pg.Pool({ connectionString: world.targetUrl, max: writers }) };
    // a connection ended by the server between two queries is reported by the next query; no unhandled 'error' event
    for (const pool of Object.values(this.#pools)) pool.on('error', () => undefined).on('connect', (client) => client.on('error', () => undefined));
    for (let w = 1; w <= writers; w++) this.#loops.push(this.#loop(w));
  }

  #stopped: Promise<void> | undefined;

  /** Stops the writers (idempotent). */
  stop(): Promise<void> {
    this.#running = false;
    this.#stopped ??= Promise.all(this.#loops).then(() => Promise.all(Object.values(this.#pools).map((pool) => pool.end()))).then(() => undefined);
    return this.#stopped;
  }

  /** The longest stretch with no acknowledged write between `from` and `to` (ms). */
  longestGap(from: number, to: number): number {
    const times = this.acks.times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
    let gap = 0;
    let last = from;
    for (const t of [...times, to]) {
      gap = Math.max(gap, t - last);
      last = t;
    }
    return Math.round(gap);
  }

  async #loop(writer: number): Promise<void> {
    const s = `"${this.schema}"`;
    let side = await recordSide(this.world, this.schema);
    for (let i = 1; this.#running; i++) {
      const customer = 1 + (writer % CUSTOMERS);
      for (;;) {
        const client = await this.#pools[side].connect();
        try {
          if (i % 3 === 0) {
            await client.query(`update ${s}.customer set visits = visits + 1 where id = $1`, [customer]);
            this.acks.visits.set(customer, (this.acks.visits.get(customer) ?? 0) + 1);
          } else {
            const note = `${this.prefix}${writer}-${i}`;
            await client.query('begin');
            const { rows } = await client.query<{ id: string }>(`insert into ${s}.orders (customer_id, note, total) values ($1, $2, $3) returning id`, [customer, note, i]);
            await client.query(`insert into ${s}.order_product (order_id, product_id, qty) values ($1, $2, 1)`, [rows[0]!.id, 1 + (i % 50)]);
            await client.query('commit');
            this.acks.notes.push(note);
          }
          this.acks.times.push(performance.now());
          client.release();
          break;
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          client.release();
          const key = (error as { code?: string }).code ?? String(error);
          this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
          if (!this.#running) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
          side = await recordSide(this.world, this.schema);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
