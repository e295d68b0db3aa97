import type { Logger } from '@nestjs/common';
import type { MikroORM } from '@mikro-orm/core';
import { TenancyUsageError } from '../errors/options.errors.js';
import { ReadOnlyTenantStoreError } from '../errors/lifecycle.errors.js';
import { TenantNotFoundError } from '../errors/tenant.errors.js';
import { openConnectedOrm } from '../isolation/open-orm.js';
import { type SchemaMoveReport, type SchemaMoveStep, moveIdFor, moveSchema, moveSideOf } from '../isolation/move/index.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import type { TenantServerOptions } from '../options/tenant-servers.js';
import { withCredentials } from './migrate-as.js';
import { migrationOrmOptions } from './migrate-tenant.js';
import { sourceConninfoOf } from './move-conninfo.js';
import type { TenantMigrations } from './tenant-migrations.js';

export interface TenantMoveOptions {
  /** The server to move the tenant to: a name of `tenancy.servers`. */
  server: string;
  /** How long the tenant's running work (this instance) may take to finish once the last step begins. Default 2000. */
  drainTimeoutMs?: number;
  /** Called at each step (for progress output). */
  onStep?(step: SchemaMoveStep): void;
}

export interface TenantMoveResult {
  tenantId: string;
  from: string;
  to: string;
  /** False when the tenant already lived on `to` (a rerun only finished what an earlier run left). */
  moved: boolean;
  /** How long the tenant's work was held for the last step, in ms (undefined when this run did not reach it). */
  pausedMs?: number;
  /** Rows verified on both servers (row count and checksum per table) before the switch. */
  rows?: number;
  tables?: number;
}

const DEFAULT_DRAIN_MS = 2_000;
/** Other instances hold the tenant at most this long if the mover dies in the last step (they then serve the record). */
const REMOTE_MOVE_FENCE_MS = 30_000;

/**
 * Moves a tenant's schema to another server while the app runs (schema isolation, several servers), on PostgreSQL's
 * logical replication (src/isolation/move/): the target is created and migrated, PostgreSQL copies the rows and
 * streams every later change, then the tenant's work is held (every instance) while the copy catches up, is verified
 * and the source renamed away; the record is switched and the work goes on, on the new server. Rerunning after a
 * failure or a crash at any step continues; the source's copy is removed last.
 */
export class TenantMove<T extends TenantRecord> {
  constructor(
    private readonly tenants: TenantRuntime<T>,
    private readonly migrations: TenantMigrations<T>,
    private readonly logger: Logger,
  ) {}

  async move(tenantId: string, options: TenantMoveOptions): Promise<TenantMoveResult> {
    const { tenants } = this;
    tenants.validateId(tenantId);
    const servers = this.servers(tenantId, options.server);
    const to = options.server;
    const store = tenants.store;
    if (!store.add) throw new ReadOnlyTenantStoreError('add', tenantId);
    const record = await store.find(tenantId);
    if (!record) throw new TenantNotFoundError(tenantId);
    const first = servers.keys().next().value as string;
    const from = record.server ?? first;
    const schema = tenants.isolation.migrations.target(record).schema as string;
    const moveId = moveIdFor(schema, to);
    if (from === to) {
      // a rerun after the switch: whatever an earlier run left on another server is removed
      for (const source of [...servers.keys()].filter((name) => name !== to)) await this.run(record, source, to, schema, moveId, options);
      return { tenantId, from, to, moved: false };
    }
    const report = await this.run(record, from, to, schema, moveId, options);
    return { tenantId, from, to, moved: true, pausedMs: report.fencedMs, rows: report.rows, tables: report.tables };
  }

  private async run(record: T, from: string, to: string, schema: string, moveId: string, options: TenantMoveOptions): Promise<SchemaMoveReport> {
    const { tenants } = this;
    const id = record.id;
    const on = (server: string) => ({ ...record, server }) as T;
    const source = await this.openOn(on(from), `${id}:move-source`);
    try {
      const target = await this.openOn(on(to), `${id}:move-target`);
      try {
        const servers = tenants.options.servers as ReadonlyMap<string, TenantServerOptions>;
        return await moveSchema({
          source: moveSideOf(source),
          target: moveSideOf(target),
          schema,
          moveId,
          sourceConninfo: sourceConninfoOf(source.config.getAll() as never, servers.get(from)),
          labels: { source: `server '${from}'`, target: `server '${to}'` },
          createTargetSchema: async () => void (await this.migrations.migrateOne(on(to))),
          recordPointsAtTarget: async () => ((await tenants.store.find(id))?.server ?? (servers.keys().next().value as string)) === to,
          switchRecord: async () => {
            const current = (await tenants.store.find(id)) ?? record;
            await (tenants.store.add as (r: T) => Promise<void>)({ ...current, server: to });
            tenants.directory.invalidate(id);
          },
          fence: async () => {
            tenants.fences.fenceMove(id);
            await tenants.publish({ kind: 'moving', tenantId: id, fenceMs: REMOTE_MOVE_FENCE_MS });
            const left = await tenants.fences.drained(id, options.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
            if (left) this.logger.warn(`Tenant '${id}': ${left} unit(s) of work still running as its move's last step begins; their writes wait for it`);
          },
          unfence: async () => {
            tenants.directory.invalidate(id);
            await tenants.isolation.forgetTenant(id);
            tenants.fences.liftMove(id);
            await tenants.publish({ kind: 'moved', tenantId: id });
          },
          onStep: (step) => options.onStep?.(step),
          logger: this.logger,
        });
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  }

  /** A connection to the tenant's database on a server, as the migrations connect (tenancy.migrateAs). */
  private async openOn(record: T, name: string): Promise<MikroORM> {
    const config = withCredentials(this.tenants.isolation.migrations.ormConfig(record), this.tenants.options.migrateAs);
    const base = migrationOrmOptions(config, `${this.tenants.contextName}:${name}`);
    // the fence transaction holds one connection while the move checks the source on another
    const orm = await openConnectedOrm({ ...base, pool: { min: 0, max: 3 } }, this.logger, `the move connection '${name}'`);
    this.tenants.isolation.reclaimEntityPrototypes();
    return orm;
  }

  private servers(tenantId: string, to: string): ReadonlyMap<string, TenantServerOptions> {
    const { servers, isolation, contextName } = this.tenants.options;
    if (!servers) throw new TenancyUsageError(`Cannot move tenant '${tenantId}': tenant context '${contextName}' configures no tenancy.servers (one server: nothing to move to).`);
    if (isolation !== 'schema') throw new TenancyUsageError(`Cannot move tenant '${tenantId}': moving is supported for isolation 'schema' only so far (context '${contextName}' uses '${isolation}').`);
    if (!servers.has(to)) throw new TenancyUsageError(`Cannot move tenant '${tenantId}' to server '${to}': it is not in tenancy.servers (configured: ${[...servers.keys()].join(', ')}).`);
    return servers;
  }
}
