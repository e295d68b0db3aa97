import type { EntityManager } from '@mikro-orm/core';
import { TemplateNotCloneableError } from './template-errors.js';

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** What the clone does not copy: found, it refuses (TemplateNotCloneableError). `?` is the template schema. */
const UNSUPPORTED_SQL = `
  select 'a ' || case c.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'p' then 'partitioned table'
    when 'f' then 'foreign table' end || ' ' || c.relname as what
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relkind in ('v', 'm', 'p', 'f')
  union all select 'a function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = ?
  union all select 'a type ' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname = ? and t.typtype in ('e', 'd', 'r', 'm') or (n.nspname = ? and t.typtype = 'c' and not exists (select 1 from pg_class r where r.oid = t.typrelid and r.relkind <> 'c'))
  union all select 'a trigger ' || g.tgname from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ? and not g.tgisinternal
  union all select 'a row-level security policy ' || p.polname from pg_policy p join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace where n.nspname = ?
  union all select 'a rule ' || r.rulename from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ? and c.relkind = 'r'`;

const TABLES_SQL = `select c.relname as name, obj_description(c.oid, 'pg_class') as comment, exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attidentity <> '') as identity,
    (select string_agg(quote_ident(a.attname), ', ' order by a.attnum) from pg_attribute a
      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '') as columns
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = ? and c.relkind = 'r' order by c.oid`;

/** Sequences not made by an identity column (those come with `like ... including identity`), and their owner column. */
const SEQUENCES_SQL = `select s.sequencename as name, s.data_type as type, s.start_value, s.min_value, s.max_value, s.increment_by,
    s.cycle, s.cache_size, (select format('%I.%I', t.relname, a.attname) from pg_depend d join pg_class t on t.oid = d.refobjid
      join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
      where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'a') as owned_by
  from pg_sequences s join pg_namespace n on n.nspname = s.schemaname join pg_class c on c.relnamespace = n.oid and c.relname = s.sequencename
  where s.schemaname = ? and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'i')`;

/** Every sequence (identity ones included), to carry its type (`like` makes identity ones bigint) and position over. */
const ALL_SEQUENCES_SQL = `select sequencename as name, data_type as type from pg_sequences where schemaname = ?`;

/** Column defaults that take a sequence of the template: re-pointed to the clone's sequence of the same name. */
const SEQUENCE_DEFAULTS_SQL = `select t.relname as "table", a.attname as "column", s.relname as sequence, pg_get_expr(ad.adbin, ad.adrelid) as expr
  from pg_attrdef ad join pg_class t on t.oid = ad.adrelid join pg_namespace n on n.oid = t.relnamespace
  join pg_attribute a on a.attrelid = ad.adrelid and a.attnum = ad.adnum
  join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid and d.refclassid = 'pg_class'::regclass
  join pg_class s on s.oid = d.refobjid and s.relkind = 'S' where n.nspname = ?`;

/** Constraints (not-null ones come with the columns), by kind so foreign keys go last. With search_path pg_catalog, names are qualified. */
const CONSTRAINTS_SQL = `select t.relname as "table", k.conname as name, k.contype as kind, pg_get_constraintdef(k.oid) as def
  from pg_constraint k join pg_class t on t.oid = k.conrelid join pg_namespace n on n.oid = t.relnamespace
  where n.nspname = ? and k.contype in ('p', 'u', 'c', 'x', 'f') order by k.contype = 'f', k.oid`;

/** Indexes that back no constraint (those come with their constraint). */
const INDEXES_SQL = `select pg_get_indexdef(i.indexrelid) as def from pg_index i join pg_class t on t.oid = i.indrelid
  join pg_namespace n on n.oid = t.relnamespace where n.nspname = ? and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)`;

interface Table { name: string; comment: string | null; identity: boolean; columns: string }
interface Sequence { name: string; type: string; start_value: string; min_value: string; max_value: string; increment_by: string; cycle: boolean; cache_size: string; owned_by: string | null }

/** The SQL that copies the template into schema `to`, marked `mark` (one multi-statement query). */
export type SchemaClone = (to: string, mark: string) => string;

/**
 * Reads the template schema once and returns the SQL that copies it into a new schema: tables with their columns,
 * defaults, identity, generated columns, table and column comments, every constraint and index under its own name
 * (so later migrations that name them work on copies too), sequences at the template's position when the copy runs,
 * the rows (the migrations table and any seed data included), and the owner mark. Rows and sequence positions are
 * read by the copy itself, so they are those of the moment it runs; the structure is the one read here. Whatever it
 * would not copy faithfully (views, functions, types, triggers, policies, rules, partitioned or foreign tables,
 * column defaults other than a plain nextval) makes it refuse before anything is written.
 */
export async function planSchemaClone(em: EntityManager, from: string): Promise<SchemaClone> {
  const T = quote(from);
  const literal = (text: string) => em.getPlatform().quoteValue(text) as string;
  return em.transactional(async (trx) => {
    const execute = <R>(sql: string, params: unknown[] = []) => trx.getConnection().execute(sql, params, 'all', trx.getTransactionContext()) as Promise<R[]>;
    const read = <R>(sql: string, count = 1) => execute<R>(sql, Array<string>(count).fill(from));
    // the definitions below name the template's objects with their schema only when it is not on the search path
    await execute('set local search_path to pg_catalog');
    const unsupported = await read<{ what: string }>(UNSUPPORTED_SQL, 7);
    if (unsupported.length) throw new TemplateNotCloneableError(from, unsupported.map((row) => row.what));
    const tables = await read<Table>(TABLES_SQL);
    const sequences = await read<Sequence>(SEQUENCES_SQL);
    const allSequences = await read<{ name: string; type: string }>(ALL_SEQUENCES_SQL);
    const defaults = await read<{ table: string; column: string; sequence: string; expr: string }>(SEQUENCE_DEFAULTS_SQL);
    const constraints = await read<{ table: string; name: string; kind: string; def: string }>(CONSTRAINTS_SQL);
    const indexes = await read<{ def: string }>(INDEXES_SQL);
    const odd = defaults.filter((d) => !/^nextval\('[^']+'::regclass\)$/.test(d.expr));
    if (odd.length) throw new TemplateNotCloneableError(from, odd.map((d) => `a column default ${d.expr} on ${d.table}.${d.column}`));
    return (to: string, mark: string): string => {
      const N = quote(to);
      const retarget = (def: string) => def.replaceAll(`REFERENCES ${T}.`, `REFERENCES ${N}.`).replaceAll(`REFERENCES ${from}.`, `REFERENCES ${N}.`);
      const ddl = [
        'set local search_path to pg_catalog',
        `create schema ${N}`,
        ...sequences.map((s) => `create sequence ${N}.${quote(s.name)} as ${s.type} increment by ${s.increment_by} minvalue ${s.min_value} maxvalue ${s.max_value} start with ${s.start_value} cache ${s.cache_size} ${s.cycle ? 'cycle' : 'no cycle'}`),
        ...tables.map((t) => `create table ${N}.${quote(t.name)} (like ${T}.${quote(t.name)} including defaults including identity including generated including storage including comments including compression including statistics)`),
        ...tables.filter((t) => t.comment !== null).map((t) => `comment on table ${N}.${quote(t.name)} is ${literal(t.comment as string)}`),
        ...allSequences.map((s) => `alter sequence ${N}.${quote(s.name)} as ${s.type}`),
        ...sequences.filter((s) => s.owned_by).map((s) => `alter sequence ${N}.${quote(s.name)} owned by ${N}.${s.owned_by}`),
        ...defaults.map((d) => `alter table ${N}.${quote(d.table)} alter column ${quote(d.column)} set default nextval(${literal(`${N}.${quote(d.sequence)}`)}::regclass)`),
        ...tables.map((t) => `insert into ${N}.${quote(t.name)} (${t.columns})${t.identity ? ' overriding system value' : ''} select ${t.columns} from ${T}.${quote(t.name)}`),
        ...allSequences.map((s) => `select setval(${literal(`${N}.${quote(s.name)}`)}, last_value, is_called) from ${T}.${quote(s.name)}`),
        ...constraints.map((k) => `alter table ${N}.${quote(k.table)} add constraint ${quote(k.name)} ${retarget(k.def)}`),
        ...indexes.map((i) => i.def.replace(` ON ${T}.`, ` ON ${N}.`).replace(` ON ${from}.`, ` ON ${N}.`)),
        `comment on schema ${N} is ${literal(mark)}`,
      ];
      return ddl.join(';\n');
    };
  });
}

/** Runs a planned copy in one transaction (a multi-statement simple query: one round trip). */
export async function cloneSchema(em: EntityManager, clone: SchemaClone, to: string, mark: string): Promise<void> {
  await em.transactional(async (trx) => {
    await trx.getConnection().execute(clone(to, mark), [], 'run', trx.getTransactionContext());
  });
}
