import type { MikroORM } from '@mikro-orm/core';

/** Runs one statement; `?` placeholders, values inlined by the driver (MikroORM's formatQuery). */
export type MoveQuery = <T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<T[]>;

/** One side of a move (the source or the target server, connected to the tenant's database). */
export interface MoveSide {
  /** Runs a statement on a pooled connection, outside any transaction (CREATE SUBSCRIPTION needs that). */
  readonly query: MoveQuery;
  /** Runs `fn` on ONE connection inside a transaction: committed when `fn` resolves, rolled back when it throws. */
  transaction<R>(fn: (query: MoveQuery) => Promise<R>): Promise<R>;
}

/** A MoveSide on a MikroORM instance (PostgreSQL driver), so the library needs no `pg` dependency of its own. */
export function moveSideOf(orm: MikroORM): MoveSide {
  const connection = orm.em.getConnection();
  return {
    query: async <T>(sql: string, params: readonly unknown[] = []) => (await connection.execute(sql, [...params], 'all')) as T[],
    transaction: (fn) =>
      connection.transactional((trx) => fn(async <T>(sql: string, params: readonly unknown[] = []) => (await connection.execute(sql, [...params], 'all', trx)) as T[])),
  };
}

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A qualified, quoted table name. */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
