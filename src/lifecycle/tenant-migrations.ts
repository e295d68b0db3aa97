import type { MikroORM } from '@mikro-orm/core';
import type { Logger } from '@nestjs/common';
import { openConnectedOrm } from '../isolation/open-orm.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { FIX_THE_ROW, tenantRowProblem } from '../runtime/tenant-row-problem.js';
import { type TenantWorker, fanOut } from './fan-out.js';
import { type MigrationDirection, type MigrationStatus, type TenantMigrationReport, type TenantMigrationResult, buildReport } from './migration-report.js';
import { migrateTenant, migrationOrmOptions } from './migrate-tenant.js';
import { messageOf } from '../errors/message-of.js';
import { TenantMigrationError } from '../errors/lifecycle.errors.js';
import { type SharedOrms, sharedMigrationOrms } from './shared-migration-orms.js';
import { withCredentials } from './migrate-as.js';
import { SHARED_TABLES, runOnSharedTables } from './shared-tables-run.js';

export interface TenantMigrationOptions {
  /** Only these tenants (default: every tenant in the store, suspended ones included). */
  tenants?: string[];
  /** Tenants migrated at once, each on its own connection. Default 1. */
  concurrency?: number;
  /** Keep going after a tenant fails. Default false: stop starting new tenants, let in-flight ones finish. */
  continueOnError?: boolean;
  /** Up: apply up to this migration; down: revert down to it (0 reverts all). Default: all pending / the last one. */
  to?: string | number;
  /** Called as each tenant finishes (progress displays). */
  onResult?: (result: TenantMigrationResult, done: number, total: number) => void;
}

/** A row of the tenant store that cannot be a tenant: `id` as listed (never logged), `tenantId` as reported. */
interface InvalidRow {
  id: string;
  tenantId: string;
  error: string;
}

/** The tenant context's migrations, applied to one tenant or fanned out over many. */
export class TenantMigrations<T extends TenantRecord = TenantRecord> {
  constructor(
    private readonly tenants: TenantRuntime<T>,
    private readonly logger: Logger,
  ) {}

  private get access() {
    return this.tenants.isolation.migrations;
  }

  get contextName(): string {
    return this.tenants.contextName;
  }

  /** Migrates every selected tenant with `concurrency` workers; never throws for a tenant's failure (see `ok`). */
  async run(direction: MigrationDirection, options: TenantMigrationOptions = {}): Promise<TenantMigrationReport> {
    const started = performance.now();
    const { records, unknown, invalid } = await this.select(options.tenants);
    const unknownResults = unknown.map((tenantId): TenantMigrationResult => ({
      tenantId,
      status: 'failed',
      migrations: [],
      durationMs: 0,
      error: `unknown tenant '${tenantId}': it is not in the tenant store`,
    }));
    const byId = new Map(records.map((record) => [record.id, record]));
    const shared = this.access.shared
      ? await runOnSharedTables(this.worker(new Map([[SHARED_TABLES, { id: SHARED_TABLES } as T]]), direction, options.to), records.map((record) => record.id), options.onResult)
      : undefined;
    const sharedTables = shared?.sharedTables;
    const results =
      shared?.results ??
      (await fanOut([...byId.keys()], () => this.worker(byId, direction, options.to), {
        concurrency: options.concurrency ?? 1,
        continueOnError: options.continueOnError ?? false,
        onResult: options.onResult,
      }));
    const invalidResults = invalid.map(({ tenantId, error }): TenantMigrationResult => ({ tenantId, status: 'invalid', migrations: [], durationMs: 0, error }));
    const report = buildReport(this.contextName, direction, [...invalidResults, ...unknownResults, ...results], Math.round(performance.now() - started));
    if (sharedTables) report.sharedTables = sharedTables;
    const { counts } = report;
    const once = sharedTables ? ` (shared tables: ${sharedTables.migrations.length} migration(s) run once for every tenant)` : '';
    const summary =
      `${direction} on ${report.tenants.length} tenant(s) of '${this.contextName}'${once}: ${counts.migrated} migrated, ${counts['up-to-date']} up to date, ` +
      `${counts.failed} failed, ${counts.skipped} skipped, ${counts.invalid} invalid store row(s) (${report.durationMs} ms)`;
    if (!report.ok) this.logger.error(summary);
    else if (counts.invalid) this.logger.warn(`${summary}. Every tenant succeeded; fix or remove the invalid rows (logged above).`);
    else this.logger.log(summary);
    return report;
  }

  /** Migrates one tenant (lifecycle create): throws when it fails. */
  async migrateOne(record: T, direction: MigrationDirection = 'up'): Promise<TenantMigrationResult> {
    const worker = this.worker(new Map([[record.id, record]]), direction);
    try {
      const result = await worker.run(record.id);
      if (result.status === 'failed') throw new TenantMigrationError(record.id, result.error ?? `migrating tenant '${record.id}' failed`);
      return result;
    } finally {
      await worker.close();
    }
  }

  /**
   * Executed and pending migrations of each selected tenant, in order (store rows that cannot be a tenant first,
   * marked `invalid`). Reading a status never creates anything.
   */
  async status(tenantIds?: string[]): Promise<MigrationStatus[]> {
    const { records, invalid } = await this.select(tenantIds);
    const byId = new Map(records.map((record) => [record.id, record]));
    const invalidById = new Map(invalid.map((row) => [row.id, row]));
    const invalidStatus = ({ tenantId, error }: InvalidRow): MigrationStatus => ({ tenantId, executed: [], pending: [], error, invalid: true });
    const shared = this.access.sharedOrm ? this.sharedOrms() : undefined;
    try {
      const statuses: MigrationStatus[] = tenantIds ? [] : invalid.map(invalidStatus);
      for (const tenantId of tenantIds ? new Set(tenantIds) : byId.keys()) {
        const record = byId.get(tenantId);
        const row = invalidById.get(tenantId);
        if (record) statuses.push(await this.statusOf(record, shared));
        else if (row) statuses.push(invalidStatus(row));
        else statuses.push({ tenantId, executed: [], pending: [], error: `unknown tenant '${tenantId}'` });
      }
      return statuses;
    } finally {
      await shared?.close();
    }
  }

  private async statusOf(record: T, shared: SharedOrms<T> | undefined): Promise<MigrationStatus> {
    try {
      const { schema } = this.access.target(record);
      const reused = shared?.of(record);
      const orm = reused ? await reused : await this.openOrm(record);
      try {
        // the migrator would create a missing tracking table (and schema): look before asking it
        const tables = await orm.em.getConnection().execute(
          'select 1 from information_schema.tables where table_schema = coalesce(?, current_schema()) and table_name = ?',
          [schema ?? null, trackingTableOf(orm)],
        );
        if (!tables.length) return { tenantId: record.id, executed: [], pending: [], error: `${this.describe(record)} has no migration table yet: run migrate up (or tenant create)` };
        return await this.readStatus(orm, record.id, schema);
      } finally {
        if (!reused) await orm.close();
      }
    } catch (error) {
      return { tenantId: record.id, executed: [], pending: [], error: messageOf(error) };
    }
  }

  private async readStatus(orm: MikroORM, tenantId: string, schema: string | undefined): Promise<MigrationStatus> {
    const executed = await orm.migrator.getExecuted({ schema });
    const pending = await orm.migrator.getPending({ schema });
    return { tenantId, executed: executed.map((m) => m.name), pending: pending.map((m) => m.name) };
  }

  /**
   * Records of the selected tenants, the requested ids the store does not know, and the rows that cannot be a tenant
   * (tenantRowProblem: never migrated, never used in SQL, logged with the id escaped when it breaks the id rules).
   */
  private async select(tenantIds: string[] | undefined): Promise<{ records: T[]; unknown: string[]; invalid: InvalidRow[] }> {
    const { store, ids } = this.tenants.directory;
    const records: T[] = [];
    const unknown: string[] = [];
    const invalid: InvalidRow[] = [];
    const sort = (record: T): void => {
      const problem = tenantRowProblem(this.tenants, record);
      if (problem) {
        this.logger.error(`The tenant store of '${this.contextName}' lists ${problem.shownId}: ${problem.rule} ${FIX_THE_ROW}`);
        invalid.push({ id: record.id, tenantId: problem.reportedId, error: `${problem.rule} ${FIX_THE_ROW}` });
      } else {
        records.push(record);
      }
    };
    if (!tenantIds) {
      for (const record of await store.list()) sort(record);
      return { records, unknown, invalid };
    }
    for (const id of new Set(tenantIds)) {
      ids.validate(id);
      const record = await store.find(id);
      if (record) sort(record);
      else unknown.push(id);
    }
    return { records, unknown, invalid };
  }

  /**
   * Schema mode: one ORM per worker, reused for each tenant it takes (the migrator keeps the target schema as
   * instance state, so workers never share one). Database mode: an ORM per tenant, closed right after.
   */
  private worker(records: Map<string, T>, direction: MigrationDirection, to?: string | number): TenantWorker {
    const shared = this.access.sharedOrm ? this.sharedOrms() : undefined;
    return {
      run: async (tenantId) => {
        const started = performance.now();
        const record = records.get(tenantId) as T;
        try {
          // a span and outcome counters per tenant (src/observability/)
          const migrations = await this.tenants.observers.operation({ name: 'migrate', tenantId, direction }, async () => {
            const reused = shared?.of(record);
            const orm = reused ? await reused : await this.openOrm(record);
            try {
              const target = { tenantId, lockKey: `nestjs-mikro-tenancy:${this.contextName}:${tenantId}`, ...this.access.target(record), to, label: this.describe(record) };
              return await migrateTenant(orm, direction, target);
            } finally {
              if (!reused) await orm.close();
            }
          });
          return { tenantId, status: migrations.length ? 'migrated' : 'up-to-date', migrations, durationMs: Math.round(performance.now() - started) };
        } catch (error) {
          const message = messageOf(error);
          this.logger.error(`Tenant '${tenantId}': ${message}`);
          return { tenantId, status: 'failed', migrations: [], durationMs: Math.round(performance.now() - started), error: message };
        }
      },
      close: async () => {
        await shared?.close();
      },
    };
  }

  private describe(record: T): string {
    return `tenant '${record.id}' (${this.tenants.isolation.describe(record)})`;
  }

  /** Shared migration ORMs of one run (see sharedMigrationOrms). */
  private sharedOrms(): SharedOrms<T> {
    return sharedMigrationOrms((record) => (this.access.ormKey ? this.access.ormKey(record) : ''), (record, key) => this.openOrm(record, key));
  }

  /** A migration ORM (see TenantMigrationAccess); the serving ORM takes the entity prototypes back right after. */
  private async openOrm(record: T | undefined, sharedKey?: string): Promise<MikroORM> {
    const name = `${this.contextName}:migrations${sharedKey !== undefined ? (sharedKey ? `@${sharedKey}` : '') : record ? `:${record.id}` : ''}`;
    const config = withCredentials(this.access.ormConfig(record), this.tenants.options.migrateAs);
    const orm = await openConnectedOrm(migrationOrmOptions(config, name), this.logger, `the migration connection of '${name}'`);
    this.tenants.isolation.reclaimEntityPrototypes();
    return orm;
  }
}

/** The migrations tracking table's name, from MikroORM's migrator (`migrations.tableName`, without its schema). */
function trackingTableOf(orm: MikroORM): string {
  const migrator = orm.migrator as unknown as { getStorage(): { getTableName(): { tableName: string } } };
  return migrator.getStorage().getTableName().tableName;
}

