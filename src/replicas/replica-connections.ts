import { databaseUnavailableReason } from '../errors/database-unavailable.error.js';

/**
 * The methods of MikroORM's SQL Connection (AbstractSqlConnection, 7.x) this folder wraps on the connection objects
 * its driver owns. Every query MikroORM runs goes through one of them (QueryBuilder, em.find/count/stream, native
 * inserts/updates/deletes, flush, transactions, em.execute, em.getKysely); test/unit/mikro-orm-internals.spec.ts
 * breaks if that stops being true.
 */
export interface SqlConnection {
  execute(query: unknown, params?: unknown[], method?: string, ctx?: unknown, loggerContext?: unknown): Promise<unknown>;
  stream(query: unknown, params?: unknown[], ctx?: unknown, loggerContext?: unknown, chunkSize?: number): AsyncIterableIterator<unknown>;
  begin(options?: unknown): Promise<unknown>;
  getClient(): unknown;
}

/** Runs a query on a connection as MikroORM would, without the wrappers below (the replica checks use it). */
export type RawExecute = (query: string, params: unknown[], method: 'get') => Promise<unknown>;

/**
 * The primary tells when the current unit of work writes: a query run with MikroORM's 'run' method (inserts, updates,
 * deletes, upserts, flushes), a statement that is not a plain SELECT (raw SQL through em.execute), a transaction begun
 * (flush, em.transactional, em.begin), or the Kysely client handed out (em.getKysely(): its queries bypass execute).
 * Returns the unwrapped execute.
 */
export function reportWrites(primary: SqlConnection, onWrite: () => void): RawExecute {
  const execute = primary.execute.bind(primary);
  const begin = primary.begin.bind(primary);
  const getClient = primary.getClient.bind(primary);
  primary.execute = (query, params, method, ctx, loggerContext) => {
    if (method === 'run' || ctx !== undefined || !isPlainRead(query)) onWrite();
    return execute(query, params, method, ctx, loggerContext);
  };
  primary.begin = (options) => {
    onWrite();
    return begin(options);
  };
  primary.getClient = () => {
    onWrite();
    return getClient();
  };
  return execute as RawExecute;
}

/**
 * A read the replica could not answer because it is unreachable (down, restarting, refusing connections, pool wait
 * timed out) or because replay cancelled it (a recovery conflict) is run again on the primary: reads are safe to
 * repeat, and the request never sees the replica's failure. `onUnavailable` is told why (the replica is then skipped
 * until a check finds it healthy). Queries inside a transaction on the replica are not repeated. A stream is repeated
 * only when it fails before its first row. Returns the unwrapped execute.
 */
export function failOverToPrimary(replica: SqlConnection, primary: SqlConnection, onUnavailable: (reason: string) => void): RawExecute {
  const execute = replica.execute.bind(replica);
  const stream = replica.stream.bind(replica);
  replica.execute = async (query, params, method, ctx, loggerContext) => {
    try {
      return await execute(query, params, method, ctx, loggerContext);
    } catch (error) {
      if (ctx !== undefined || !readFailedOnReplica(error, onUnavailable)) throw error;
      return primary.execute(query, params, method, undefined, loggerContext);
    }
  };
  replica.stream = async function* (query, params, ctx, loggerContext, chunkSize) {
    let rows = 0;
    try {
      for await (const row of stream(query, params, ctx, loggerContext, chunkSize)) {
        rows++;
        yield row;
      }
    } catch (error) {
      if (rows > 0 || ctx !== undefined || !readFailedOnReplica(error, onUnavailable)) throw error;
      yield* primary.stream(query, params, undefined, loggerContext, chunkSize);
    }
  };
  return execute as RawExecute;
}

/** Whether a failed replica read may be repeated on the primary; tells `onUnavailable` when the replica is the cause. */
function readFailedOnReplica(error: unknown, onUnavailable: (reason: string) => void): boolean {
  const unavailable = databaseUnavailableReason(error);
  if (unavailable !== undefined) {
    onUnavailable(unavailable);
    return true;
  }
  return isRecoveryConflict(error);
}

/** "canceling statement due to conflict with recovery": replay on the replica needed what the query was reading. */
function isRecoveryConflict(error: unknown): boolean {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 4; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === '40001' && typeof message === 'string' && /conflict with recovery/i.test(message)) return true;
    current = cause;
  }
  return false;
}

const PLAIN_SELECT = /^\s*(?:(?:\/\*[\s\S]*?\*\/|--[^\n]*(?:\n|$))\s*)*\(*\s*select\b/i;
/** Row locks and SELECT INTO (which creates a table) make a SELECT a write. */
const WRITING_SELECT = /\bfor\s+(?:no\s+key\s+)?(?:update|share|key\s+share)\b|\binto\b/i;

/** Whether SQL is a plain read (a SELECT). Anything else counts as a write, so a doubt sends later reads to the primary. */
export function isPlainRead(query: unknown): boolean {
  const sql = typeof query === 'string' ? query : (query as { sql?: unknown } | null)?.sql;
  return typeof sql === 'string' && PLAIN_SELECT.test(sql) && !WRITING_SELECT.test(sql);
}
