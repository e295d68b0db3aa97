import type { Logger } from '@nestjs/common';
import type { MikroORM } from '@mikro-orm/core';
import { TenancyUsageError } from '../errors/options.errors.js';
import { openConnectedOrm } from '../isolation/open-orm.js';
import { type SchemaMoveReport, type SchemaMoveStep, moveIdFor, moveNamesOf, moveSchema, moveSideOf } from '../isolation/move/index.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { serverOfRecord } from '../options/tenant-servers.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { withCredentials } from './migrate-as.js';
import { migrationOrmOptions } from './migrate-tenant.js';
import { sourceConninfoOf } from './move-conninfo.js';
import { DATABASE_MODE_SCHEMA, prepareTargetDatabase, refuseTablesOutsidePublic } from './move-database-tenant.js';
import type { TenantMigrations } from './tenant-migrations.js';
import { TenantMoveHold } from './move-hold.js';
import { registeredRecordToChange } from './registered-record.js';
import { moveOutOfSharedTier } from '../isolation/move/shared-tier-move.js';
import type { MoveCallbacks } from '../isolation/move/move-switch.js';
import { moveIntoSharedTier } from '../isolation/move/shared-tier-move-in.js';
import { holdsTenantRows } from '../isolation/move/shared-tier-rows.js';
import { SHARED_TIER_SCHEMA } from '../options/tokens.js';
import { afterStagingRenamed, migrateStaging, sharedTierConninfo, sharedTierRowsOf } from './move-shared-tenant.js';

export interface TenantMoveOptions {
  /** The server to move the tenant to (a name of `tenancy.servers`). Default: the one it is on. */
  server?: string;
  /** The tier to move the tenant to (schema isolation with `tenancy.databaseTier` or `tenancy.sharedTier`). Default: the one it is in. */
  tier?: TenantTier;
  /** How long the tenant's running work (this instance) may take to finish once the last step begins. Default 2000. */
  drainTimeoutMs?: number;
  /** Called at each step (for progress output). */
  onStep?(step: SchemaMoveStep): void;
}

/** Where a tenant lives: a server and a tier. */
export interface TenantPlace {
  server: string;
  tier: TenantTier;
}

export interface TenantMoveResult {
  tenantId: string;
  from: TenantPlace;
  to: TenantPlace;
  /** False when the tenant already lived there (a rerun only finished what an earlier run left). */
  moved: boolean;
  /** How long the tenant's work was held for the last step, in ms (undefined when this run did not reach it). */
  pausedMs?: number;
  /** Rows verified on both sides (row count and checksum per table) before the switch. */
  rows?: number;
  tables?: number;
  /** Fence attempts this run made (a lock not granted or a slow catch-up gives the tenant back and tries again); 0 when it did not fence. */
  fenceAttempts?: number;
}

type TenantTier = NonNullable<TenantRecord['tier']>;


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
    const { record } = await registeredRecordToChange(tenants, tenantId);
    const from = this.placeOf(record);
    const to: TenantPlace = { server: options.server ?? from.server, tier: options.tier ?? from.tier };
    if (to.tier === 'shared' && from.tier === 'shared' && to.server !== from.server) {
      throw new TenancyUsageError(
        `Cannot move tenant '${tenantId}' from the shared tier of server '${from.server}' to the shared tier of server '${to.server}' in one move: ` +
          `move it to the schema tier of '${to.server}' first, then into its shared tier.`,
      );
    }
    const places = this.places(tenantId);
    this.refuseUnknownPlace(tenantId, to, places);
    // the tenant's own schema (the same name in the schema and database tiers), wherever it lives now: a shared-tier
    // tenant has none, and a rerun after a move into the shared tier finds the move's objects by this name
    const schema = this.databaseMode ? DATABASE_MODE_SCHEMA : (tenants.isolation.migrations.target(this.at(record, { server: from.server, tier: 'schema' })).schema as string);
    // slots are server-wide: database mode keys the move by the target server and the tenant's database there
    const targetKey = this.databaseMode ? `${to.server}/${tenants.isolation.provisioning.nameOf(this.at(record, to))}` : keyOf(to);
    const moveId = moveIdFor(schema, targetKey);
    if (keyOf(from) === keyOf(to)) {
      // a rerun after the switch: whatever an earlier run left elsewhere is removed
      for (const place of places.filter((p) => keyOf(p) !== keyOf(to))) await this.cleanUpAt(record, place, to, schema, moveId, options);
      return { tenantId, from, to, moved: false };
    }
    const report = await this.runFor(record, from, to, schema, moveId, options);
    await this.dropDatabaseLeftAt(record, from, true);
    return { tenantId, from, to, moved: true, pausedMs: report.fencedMs, rows: report.rows, tables: report.tables, fenceAttempts: report.fenceAttempts };
  }

  /** Database isolation: every tenant has a database of its own (the 'database' tier, never written to the store). */
  private get databaseMode(): boolean {
    return this.tenants.options.isolation === 'database';
  }

  /** Where a record says the tenant lives (none: the first server, the schema tier). */
  private placeOf(record: T): TenantPlace {
    const servers = this.tenants.options.servers;
    const tier = this.databaseMode ? 'database' : (record.tier ?? 'schema');
    return { server: servers ? serverOfRecord(servers, record) : (record.server ?? ''), tier };
  }

  private at(record: T, place: TenantPlace): T {
    // the tier is written only where there are tiers (a store without a tier column never gets one)
    const tier = this.tenants.options.databaseTier || this.tenants.options.sharedTier ? { tier: place.tier } : {};
    return { ...record, server: place.server || undefined, ...tier } as T;
  }

  /**
   * After a rerun's switch: the move's replication objects left at `place`, and a database-tier database left there.
   * Only a place holding something of the move is cleaned up as its source: slots are server-wide, and another
   * database of the source's server would find the move's slot not its own and stop the rerun before the real source.
   */
  private async cleanUpAt(record: T, place: TenantPlace, to: TenantPlace, schema: string, moveId: string, options: TenantMoveOptions): Promise<void> {
    if (place.tier === 'shared') {
      // a move out of the shared tier that stopped after its switch: its publication, or the tenant's rows, are still there
      if (await this.sharedTierHoldsMove(record, place, schema, moveId)) await this.runOutOfShared(record, place, to, schema, moveId, options);
      return;
    }
    if (place.tier === 'database' && !(await this.tenants.isolation.provisioning.ownerOf(this.at(record, place))).exists) return;
    if (await this.holdsMove(record, place, schema, moveId)) await this.runFor(record, place, to, schema, moveId, options);
    await this.dropDatabaseLeftAt(record, place);
  }

  /** Whether the tenant's database at `place` has the move's parked copy, publication or slot (the move's source objects). */
  private async holdsMove(record: T, place: TenantPlace, schema: string, moveId: string): Promise<boolean> {
    const names = moveNamesOf(schema, moveId);
    const orm = await this.openOn(this.at(record, place), `${record.id}:move-check`);
    try {
      const [row] = await moveSideOf(orm).query<{ holds: boolean }>(
        `select exists(select 1 from pg_namespace where nspname = ?) or exists(select 1 from pg_publication where pubname = ?)
             or exists(select 1 from pg_replication_slots where slot_name = ? and database = current_database()) as holds`,
        [names.parkedSchema, names.publication, names.subscription],
      );
      return row?.holds === true;
    } finally {
      await orm.close();
    }
  }

  /**
   * A database-tier source (every source in database mode) is empty once its schema is gone: its database goes too,
   * never one marked as another tenant's. An unmarked one only as this run's own source (`justMoved`) in database
   * mode: on a rerun, a database of that name on another server could be anyone's.
   */
  private async dropDatabaseLeftAt(record: T, place: TenantPlace, justMoved = false): Promise<void> {
    if (place.tier !== 'database') return;
    const source = this.at(record, place);
    const { provisioning } = this.tenants.isolation;
    const owner = await provisioning.ownerOf(source);
    const unmarkedOk = justMoved || !this.databaseMode;
    if (owner.exists && (owner.owner === record.id || (owner.owner === undefined && unmarkedOk))) await provisioning.drop(source);
  }

  /**
   * Opens the move's connections on both places (as the migrations connect) and the fleet-wide hold of the tenant's
   * work, runs the move with them, and closes them whatever happens. `prepareTarget` runs before the target is
   * opened (its database made, or its shared tables migrated).
   */
  private async withMove<R>(
    record: T,
    from: TenantPlace,
    to: TenantPlace,
    options: TenantMoveOptions,
    prepareTarget: (source: MikroORM, targetRecord: T) => Promise<void>,
    move: (source: MikroORM, target: MikroORM, callbacks: MoveCallbacks & { labels: { source: string; target: string } }) => Promise<R>,
  ): Promise<R> {
    const id = record.id;
    const source = await this.openOn(this.at(record, from), `${id}:move-source`);
    try {
      const targetRecord = this.at(record, to);
      await prepareTarget(source, targetRecord);
      const target = await this.openOn(targetRecord, `${id}:move-target`);
      const hold = new TenantMoveHold(this.tenants, id, options.drainTimeoutMs, this.logger);
      try {
        return await move(source, target, {
          labels: { source: describePlace(from), target: describePlace(to) },
          recordPointsAtTarget: () => this.pointsAt(id, to),
          switchRecord: () => this.switchTo(record, to),
          fence: () => hold.fence(),
          unfence: () => hold.unfence(),
          onStep: (step) => options.onStep?.(step),
          logger: this.logger,
        });
      } finally {
        await hold.stop(); // a failed step may leave the fence on (see switchRecord)
        await target.close();
      }
    } finally {
      await source.close();
    }
  }

  /** The move that takes a tenant from one place to the other: out of the shared tier, into it, or schema to schema. */
  private runFor(record: T, from: TenantPlace, to: TenantPlace, schema: string, moveId: string, options: TenantMoveOptions): Promise<SchemaMoveReport> {
    if (from.tier === 'shared') return this.runOutOfShared(record, from, to, schema, moveId, options);
    if (to.tier === 'shared') return this.runIntoShared(record, from, to, schema, moveId, options);
    return this.run(record, from, to, schema, moveId, options);
  }

  /** Between servers, or between the schema and database tiers (and database mode's moves): see moveSchema. */
  private run(record: T, from: TenantPlace, to: TenantPlace, schema: string, moveId: string, options: TenantMoveOptions): Promise<SchemaMoveReport> {
    const { provisioning } = this.tenants.isolation;
    const prepareTarget = async (source: MikroORM, targetRecord: T) => {
      if (this.databaseMode) {
        if (await this.pointsAt(record.id, to)) return;
        await refuseTablesOutsidePublic(source, record.id, describePlace(from));
        await prepareTargetDatabase(provisioning, targetRecord, describePlace(to));
      } else if (to.tier === 'database' && !(await provisioning.ownerOf(targetRecord)).exists) await provisioning.create(targetRecord);
    };
    return this.withMove(record, from, to, options, prepareTarget, (source, target, callbacks) =>
      moveSchema({
        ...callbacks,
        source: moveSideOf(source),
        target: moveSideOf(target),
        schema,
        moveId,
        sourceConninfo: this.conninfoOf(source, from),
        createTargetSchema: async () => void (await this.migrations.migrateOne(this.at(record, to))),
      }),
    );
  }

  /** From a schema of its own into the shared tier of the target server: see moveIntoSharedTier. */
  private runIntoShared(record: T, from: TenantPlace, to: TenantPlace, schema: string, moveId: string, options: TenantMoveOptions): Promise<SchemaMoveReport> {
    const shared = this.sharedTierOptions;
    // the target server's shared tables exist once a shared-tier tenant was created or migrated there: maybe never
    const prepareTarget = async (_source: MikroORM, targetRecord: T) => void (!(await this.pointsAt(record.id, to)) && (await this.migrations.migrateOne(targetRecord)));
    return this.withMove(record, from, to, options, prepareTarget, (source, target, callbacks) =>
      moveIntoSharedTier({
        ...callbacks,
        source: moveSideOf(source),
        rows: sharedTierRowsOf(target, record.id, shared),
        schema,
        moveId,
        sourceConninfo: this.conninfoOf(source, from),
        createStaging: () => migrateStaging(target, this.tenants.contextName, record.id, shared, schema),
      }),
    );
  }

  /** Out of the shared tier (its database on the source server) into a schema of its own: see moveOutOfSharedTier. */
  private runOutOfShared(record: T, from: TenantPlace, to: TenantPlace, schema: string, moveId: string, options: TenantMoveOptions): Promise<SchemaMoveReport> {
    const shared = this.sharedTierOptions;
    const { provisioning } = this.tenants.isolation;
    const prepareTarget = async (_source: MikroORM, targetRecord: T) => {
      if (to.tier === 'database' && !(await this.pointsAt(record.id, to)) && !(await provisioning.ownerOf(targetRecord)).exists) await provisioning.create(targetRecord);
    };
    return this.withMove(record, from, to, options, prepareTarget, (source, target, callbacks) =>
      moveOutOfSharedTier({
        ...callbacks,
        rows: sharedTierRowsOf(source, record.id, shared),
        target: moveSideOf(target),
        schema,
        moveId,
        sourceConninfo: sharedTierConninfo(this.conninfoOf(source, from), source.config.get('dbName') as string, shared.setting, record.id),
        createStaging: () => migrateStaging(target, this.tenants.contextName, record.id, shared, SHARED_TIER_SCHEMA),
        afterRename: (renamed) => afterStagingRenamed(renamed, shared),
      }),
    );
  }

  /** How the target server reaches the source database of a move (see sourceConninfoOf). */
  private conninfoOf(source: MikroORM, from: TenantPlace): string {
    return sourceConninfoOf(source.config.getAll() as never, this.tenants.options.servers?.get(from.server));
  }

  /** The shared tier's tenant column options (only called where the context has a shared tier). */
  private get sharedTierOptions(): NonNullable<TenantRuntime<T>['options']['sharedTier']>['shared'] {
    return this.tenants.options.sharedTier?.shared as NonNullable<TenantRuntime<T>['options']['sharedTier']>['shared'];
  }

  /**
   * Whether the shared tier at `place` still has the move's publication, or rows of the tenant (a cleanup to finish).
   * Not while a move of the tenant INTO that shared tier is under way (its staging schema is there, its mirrored rows
   * too): those rows are that move's copy.
   */
  private async sharedTierHoldsMove(record: T, place: TenantPlace, schema: string, moveId: string): Promise<boolean> {
    const orm = await this.openOn(this.at(record, place), `${record.id}:move-check`);
    try {
      const rows = sharedTierRowsOf(orm, record.id, this.sharedTierOptions);
      const [publication] = await rows.side.query(`select 1 from pg_publication where pubname = ?`, [moveNamesOf(SHARED_TIER_SCHEMA, moveId).publication]);
      if (publication) return true;
      const [movingIn] = await rows.side.query(`select 1 from pg_namespace where nspname = ?`, [schema]);
      return !movingIn && (await holdsTenantRows(rows));
    } finally {
      await orm.close();
    }
  }

  /** Points the tenant's record at `to` (the record as stored now: a change made meanwhile is kept). */
  private async switchTo(record: T, to: TenantPlace): Promise<void> {
    const current = (await this.tenants.store.find(record.id)) ?? record;
    await (this.tenants.store.add as (r: T) => Promise<void>)(this.at(current, to));
    this.tenants.directory.invalidate(record.id);
  }

  private async pointsAt(id: string, place: TenantPlace): Promise<boolean> {
    const current = await this.tenants.store.find(id);
    return current !== undefined && keyOf(this.placeOf(current)) === keyOf(place);
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

  /** Every place a tenant of this context can live (servers x tiers); refuses a context that has only one. */
  private places(tenantId: string): TenantPlace[] {
    const { servers, isolation, contextName, databaseTier } = this.tenants.options;
    if (isolation === 'database') {
      if (!servers) throw new TenancyUsageError(`Cannot move tenant '${tenantId}': tenant context '${contextName}' has one server (configure tenancy.servers).`);
      return [...servers.keys()].map((server) => ({ server, tier: 'database' as const }));
    }
    if (isolation !== 'schema') throw new TenancyUsageError(`Cannot move tenant '${tenantId}': moving is supported for isolation 'schema' and 'database' only (context '${contextName}' uses '${isolation}').`);
    if (!servers && !databaseTier && !this.tenants.options.sharedTier) {
      throw new TenancyUsageError(`Cannot move tenant '${tenantId}': tenant context '${contextName}' has one server and one tier (configure tenancy.servers, tenancy.databaseTier or tenancy.sharedTier).`);
    }
    const names = servers ? [...servers.keys()] : [''];
    const tiers: TenantTier[] = ['schema', ...(databaseTier ? ['database' as const] : []), ...(this.tenants.options.sharedTier ? ['shared' as const] : [])];
    return names.flatMap((server) => tiers.map((tier) => ({ server, tier })));
  }

  private refuseUnknownPlace(tenantId: string, to: TenantPlace, places: TenantPlace[]): void {
    if (places.some((place) => keyOf(place) === keyOf(to))) return;
    const { servers } = this.tenants.options;
    if (this.databaseMode && to.tier !== 'database') throw new TenancyUsageError(`Cannot move tenant '${tenantId}' to tier '${String(to.tier)}': with isolation 'database' every tenant has a database of its own.`);
    if (to.tier !== 'schema' && to.tier !== 'database' && to.tier !== 'shared') throw new TenancyUsageError(`Cannot move tenant '${tenantId}': tiers are 'schema', 'database' and 'shared'.`);
    if (to.tier === 'shared' && !this.tenants.options.sharedTier) throw new TenancyUsageError(`Cannot move tenant '${tenantId}' to the shared tier: configure tenancy.sharedTier first.`);
    if (to.tier === 'database' && !this.tenants.options.databaseTier) throw new TenancyUsageError(`Cannot move tenant '${tenantId}' to the database tier: configure tenancy.databaseTier first.`);
    throw new TenancyUsageError(`Cannot move tenant '${tenantId}' to server '${to.server}': it is not in tenancy.servers (configured: ${servers ? [...servers.keys()].join(', ') : 'none'}).`);
  }
}

/** One key per place: the move id and the comparisons use it. */
function keyOf(place: TenantPlace): string {
  return `${place.server}/${place.tier}`;
}

function describePlace(place: TenantPlace): string {
  // read after 'the' in messages: "the server 'eu1' (shared tier)"
  return `${place.server ? `server '${place.server}'` : 'server'} (${place.tier} tier)`;
}
