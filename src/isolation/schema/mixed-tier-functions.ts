import type { SharedTablesOptions } from '../../options/tenancy-options.js';
import { quoteIdent } from '../move/move-sql.js';
import { FENCED_TENANT_TABLE } from './fenced-tenant.entity.js';
import { FENCE_FUNCTION, TENANT_FUNCTION, TENANT_KEY_UNIQUE_SUFFIX } from './mixed-tier-metadata.js';

/** Where a schema's `nmt_tenant()` gets the tenant from. */
export type TenantSource =
  /** A tenant's own schema (schema or database tier): its id, a constant. */
  | { tenantId: string }
  /** The shared tier's schema: the transaction's setting, which each fork sets (as table mode does). */
  | { setting: string };

/**
 * The SQL that prepares a schema for the mixed-tier tenant migrations, run in the migration transaction before them:
 * the tenant migrations' column defaults and policies call `nmt_tenant()` and their fence triggers
 * `nmt_refuse_fenced()`, unqualified, so each schema must have its own before its tables are created. Both are
 * `create or replace`: a rerun changes nothing.
 */
export function mixedTierSchemaPrelude(schema: string, source: TenantSource, shared: Required<SharedTablesOptions>): string[] {
  return [tenantFunctionSql(schema, source, shared.type), fenceFunctionSql(schema, shared.column)];
}

/**
 * `nmt_tenant()` of a schema. A tenant's own schema returns its id as a constant (immutable, so PostgreSQL folds it
 * and the policies cost an equality with a constant); the shared schema reads the setting (stable, no setting: null,
 * which no row matches). The id is a quoted literal, never spliced: `'` doubled.
 */
export function tenantFunctionSql(schema: string, source: TenantSource, type: Required<SharedTablesOptions>['type']): string {
  const body = 'tenantId' in source ? `select ${quoteLiteral(source.tenantId)}::${type}` : `select nullif(current_setting(${quoteLiteral(source.setting)}, true), '')::${type}`;
  const volatility = 'tenantId' in source ? 'immutable' : 'stable';
  return `create or replace function ${quoteIdent(schema)}.${TENANT_FUNCTION}() returns ${type} language sql ${volatility} parallel safe as $nmt$ ${body} $nmt$`;
}

/** The start of the fence trigger's error message: how the drivers tell it from any other SQLSTATE 55000. */
export const FENCED_WRITE_MESSAGE = 'writes of this tenant are held while it moves between tiers';

/**
 * The transaction-local setting with which a move deletes a fenced tenant's rows from the shared tier once it lives
 * elsewhere (the mark stays, so an app instance that missed the switch cannot write there). Only deletes of rows of
 * the tenant it names pass, and the updates such a delete cascades to (`on delete set null`) that keep the row's
 * tenant; row-level security still limits a session to its own tenant's rows. Internal: an app never sets it.
 */
export const FENCE_CLEANUP_SETTING = 'nmt.move_cleanup';

/**
 * The fence trigger's function: a write (insert, update or delete) of a row whose tenant, before or after, is in the
 * schema's `nmt_fenced_tenant` fails with SQLSTATE 55000 (object_not_in_prerequisite_state), which the app answers
 * with 503 while the tenant moves (FENCED_WRITE_MESSAGE). The message names no tenant (it may reach logs). Under
 * FENCE_CLEANUP_SETTING naming the row's tenant, a delete, or an update that keeps the tenant, passes.
 */
export function fenceFunctionSql(schema: string, column: string): string {
  const fenced = `${quoteIdent(schema)}.${quoteIdent(FENCED_TENANT_TABLE)}`;
  const col = quoteIdent(column);
  return (
    `create or replace function ${quoteIdent(schema)}.${FENCE_FUNCTION}() returns trigger language plpgsql as $nmt$ begin ` +
    `if tg_op <> 'INSERT' and current_setting('${FENCE_CLEANUP_SETTING}', true) = old.${col}::text then ` +
    `if tg_op = 'DELETE' then return old; end if; if new.${col}::text = old.${col}::text then return new; end if; end if; ` +
    `if exists (select 1 from ${fenced} f where f."tenant_id" in ((case when tg_op = 'INSERT' then null else old.${col} end)::text, ` +
    `(case when tg_op = 'DELETE' then null else new.${col} end)::text)) then ` +
    `raise exception '${FENCED_WRITE_MESSAGE} (%.%); retry once the move has completed', ` +
    `tg_table_schema, tg_table_name using errcode = '55000'; end if; ` +
    `if tg_op = 'DELETE' then return old; end if; return new; end $nmt$`
  );
}

/**
 * Shared tier, after its migrations: each tenant table's replica identity becomes its `(tenant, primary key)` unique
 * index, so a publication that filters one tenant's rows does not make every other tenant's UPDATE and DELETE fail.
 * Only tables not yet set are altered (the ALTER takes an ACCESS EXCLUSIVE lock).
 */
export function sharedReplicaIdentitySql(schema: string): string {
  return (
    `do $nmt$ declare r record; begin for r in ` +
    `select format('%I.%I', n.nspname, t.relname) as tbl, format('%I', ic.relname) as idx from pg_index i ` +
    `join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace ` +
    `where n.nspname = ${quoteLiteral(schema)} and ic.relname like ${quoteLiteral(`%${TENANT_KEY_UNIQUE_SUFFIX.replaceAll('_', '\\_')}`)} and i.indisunique and not i.indisreplident ` +
    `loop execute format('alter table %s replica identity using index %s', r.tbl, r.idx); end loop; end $nmt$`
  );
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
