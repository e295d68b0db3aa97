import type { INestApplicationContext } from '@nestjs/common';
import { ContextMigrations } from '../lifecycle/context-migrations.js';
import type { MigrationStatus, TenantMigrationReport } from '../lifecycle/migration-report.js';
import { TenantLifecycle, type TenantMoveResult } from '../lifecycle/tenant-lifecycle.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { runOutboxCommand, stopOutboxRelay } from '../outbox/outbox-cli.js';
import { type CliArgs, UsageError } from './args.js';
import type { CliOutput } from './output.js';
import type { SchemaMoveStep as TenantMoveStep } from '../isolation/move/index.js';

/** Runs one CLI command against a booted app; returns the exit code (0 ok, 1 something failed). */
export async function runCommand(app: INestApplicationContext, args: CliArgs, out: CliOutput): Promise<number> {
  await stopOutboxRelay(app); // the app's outbox relay never runs in the CLI (outbox relay runs one pass on demand)
  const commands = new Commands(app, args, out);
  const key = `${args.command} ${args.subcommand ?? ''}`.trim();
  switch (key) {
    case 'migrate up':
      return commands.migrate('up');
    case 'migrate down':
      return commands.migrate('down');
    case 'migrate status':
      return commands.status();
    case 'migrate create':
      return commands.createMigration();
    case 'tenant create':
      return commands.createTenant();
    case 'tenant drop':
      return commands.dropTenant();
    case 'tenant suspend':
      return commands.suspendTenant(true);
    case 'tenant resume':
      return commands.suspendTenant(false);
    case 'tenant move':
      return commands.moveTenant();
    case 'tenant list':
      return commands.listTenants();
    case 'db create':
      return commands.createDatabases();
    case 'outbox status':
    case 'outbox retry':
    case 'outbox relay':
      return runOutboxCommand(app, args, out, (message) => new UsageError(message));
    default:
      throw new UsageError(`unknown command '${key}'`);
  }
}

class Commands {
  private readonly runtime: TenancyRuntime;
  private readonly lifecycle: TenantLifecycle;
  private readonly migrations: ContextMigrations;

  constructor(
    app: INestApplicationContext,
    private readonly args: CliArgs,
    private readonly out: CliOutput,
  ) {
    this.runtime = app.get(TenancyRuntime, { strict: false });
    this.lifecycle = app.get(TenantLifecycle, { strict: false });
    this.migrations = app.get(ContextMigrations, { strict: false });
  }

  async migrate(direction: 'up' | 'down'): Promise<number> {
    const { statics, tenants } = this.targets();
    if (direction === 'down' && !this.args.context && !this.args.tenants) throw new UsageError('migrate down needs --context (or --tenant): it never reverts everything at once');
    const contexts: { context: string; migrations: string[] }[] = [];
    for (const context of statics) {
      const migrations = direction === 'up' ? await this.migrations.up(context, { to: this.args.to }) : await this.migrations.down(context, { to: this.args.to });
      contexts.push({ context, migrations });
      this.out.line(`Context '${context}': ${migrations.length ? `${direction === 'up' ? 'applied' : 'reverted'} ${migrations.join(', ')}` : 'nothing to do'}`);
    }
    let report: TenantMigrationReport | undefined;
    if (tenants) {
      const options = {
        tenants: this.args.tenants,
        concurrency: this.args.concurrency,
        continueOnError: this.args.continueOnError,
        to: this.args.to === '0' ? 0 : this.args.to,
        onResult: this.out.tenantProgress(),
      };
      report = direction === 'up' ? await this.lifecycle.migrate(options) : await this.lifecycle.rollback(options);
      this.out.tenantReport(report);
    }
    this.out.result({ contexts, tenants: report });
    // a store row that can never be a tenant is worth a red CI run, although every valid tenant was migrated
    return report && (!report.ok || report.counts.invalid > 0) ? 1 : 0;
  }

  async status(): Promise<number> {
    const { statics, tenants } = this.targets();
    const contexts: (MigrationStatus & { context: string })[] = [];
    for (const context of statics) {
      const status = await this.migrations.status(context);
      contexts.push({ context, ...status });
      this.out.status(`Context '${context}'`, status);
    }
    const tenantStatuses = tenants ? await this.lifecycle.status(this.args.tenants) : undefined;
    for (const status of tenantStatuses ?? []) this.out.status(`Tenant '${status.tenantId}'`, status);
    this.out.result({ contexts, tenants: tenantStatuses });
    return [...contexts, ...(tenantStatuses ?? [])].some((s) => s.error) ? 1 : 0;
  }

  async createMigration(): Promise<number> {
    const context = this.args.context ?? this.onlyContext();
    const created = await this.migrations.create(context, { name: this.args.name, blank: this.args.blank });
    this.out.line(created.fileName ? `Context '${context}': created ${created.fileName}` : `Context '${context}': no changes, nothing created`);
    this.out.result({ context, fileName: created.fileName || null });
    return 0;
  }

  async createTenant(): Promise<number> {
    const id = this.requireTarget('tenant create <id>');
    const data = { ...this.args.data, ...(this.args.tier ? { tier: this.args.tier } : {}) };
    const result = await this.lifecycle.create(id, data, { server: this.args.server });
    const where = result.tenant.server === undefined ? '' : ` on server '${result.tenant.server}'`;
    this.out.line(`Tenant '${id}' ${result.created ? 'created' : 'already existed'}${where}; migrations applied: ${result.migrations.join(', ') || 'none'}`);
    this.out.result(result);
    return 0;
  }

  /** Exit 1 when there was nothing to drop: a mistyped id must not look like success. */
  async dropTenant(): Promise<number> {
    const id = this.requireTarget('tenant drop <id>');
    const result = await this.lifecycle.drop(id, { confirm: this.args.yes ? id : undefined, drainTimeoutMs: this.args.drainTimeoutMs });
    this.out.line(
      result.dropped
        ? `Tenant '${id}' dropped`
        : `Nothing dropped: tenant '${id}' is not registered and has no schema or database (a mistyped id, or dropped already)`,
    );
    this.out.result(result);
    return result.dropped ? 0 : 1;
  }

  /** Progress lines on the way (each step of the move), the result at the end; exit 1 is left to thrown errors. */
  async moveTenant(): Promise<number> {
    const id = this.requireTarget('tenant move <id>');
    const { server, tier } = this.args;
    if (!server && !tier) throw new UsageError('tenant move needs --server <name> and/or --tier <shared|schema|database>: where to move the tenant');
    const result = await this.lifecycle.move(id, { server, tier, onStep: (step) => this.out.line(`  ${id}: ${MOVE_STEPS[step]}`) });
    this.out.line(
      result.moved
        ? `Tenant '${id}' moved from ${placeOf(result.from)} to ${placeOf(result.to)} (${movedDetails(result)})`
        : `Tenant '${id}' already lives on ${placeOf(result.to)}; what an earlier move left elsewhere was removed`,
    );
    this.out.result(result);
    return 0;
  }

  async suspendTenant(suspend: boolean): Promise<number> {
    const id = this.requireTarget(`tenant ${suspend ? 'suspend' : 'resume'} <id>`);
    const tenant = suspend ? await this.lifecycle.suspend(id) : await this.lifecycle.resume(id);
    this.out.line(`Tenant '${id}' ${suspend ? 'suspended' : 'resumed'}`);
    this.out.result(tenant);
    return 0;
  }

  async createDatabases(): Promise<number> {
    const results = await this.migrations.createDatabases();
    const seen = new Map<string, string>();
    for (const { context, database, created, skipped } of results) {
      const sharedWith = database === null ? undefined : seen.get(database);
      if (database !== null && !sharedWith) seen.set(database, context);
      const state = sharedWith ? `(the same as context '${sharedWith}')` : created ? 'created' : 'already exists';
      this.out.line(`Context '${context}': ${skipped ? `skipped (${skipped})` : `database "${database}" ${state}`}`);
    }
    this.out.result(results);
    return 0;
  }

  async listTenants(): Promise<number> {
    const tenants = await this.lifecycle.list();
    for (const tenant of tenants) this.out.line(`${tenant.id}${tenant.server === undefined ? '' : ` on ${tenant.server}`}${tenant.suspended ? ' (suspended)' : ''}`);
    this.out.result(tenants);
    return 0;
  }

  /** Which static contexts and whether the tenants a migrate/status command covers. */
  private targets(): { statics: string[]; tenants: boolean } {
    const tenantContext = this.runtime.tenantContextName;
    const { context, tenants, allTenants } = this.args;
    if (tenants || allTenants) {
      if (!tenantContext) throw new UsageError('--tenant/--all-tenants given, but the app has no tenant context');
      if (context && context !== tenantContext) throw new UsageError(`--tenant/--all-tenants belong to the tenant context '${tenantContext}', not '${context}'`);
      return { statics: [], tenants: true };
    }
    if (!context) return { statics: this.runtime.contextNames, tenants: tenantContext !== undefined };
    if (context === tenantContext) return { statics: [], tenants: true };
    if (!this.runtime.contextNames.includes(context)) {
      throw new UsageError(`unknown context '${context}'; the app has: ${this.runtime.allContextNames.join(', ')}`);
    }
    return { statics: [context], tenants: false };
  }

  private onlyContext(): string {
    const all = this.runtime.allContextNames;
    if (all.length === 1) return all[0] as string;
    throw new UsageError(`migrate create needs --context, one of: ${all.join(', ')}`);
  }

  private requireTarget(usage: string): string {
    if (!this.args.target) throw new UsageError(`missing tenant id: ${usage}`);
    return this.args.target;
  }
}

/** What each step of a move means, for its progress lines. */
const MOVE_STEPS: Record<TenantMoveStep, string> = {
  'target-ready': 'target schema created and migrated',
  subscribed: 'subscribed: PostgreSQL is copying the rows',
  synced: 'copy complete, streaming changes',
  'fence-locked': 'writes paused for the last catch-up',
  'fence-verified': 'row counts and checksums verified',
  'fence-committed': 'switch-over committed (the source renamed away, or the staging copy renamed to the tenant schema)',
  switched: 'record switched: serving from the new server',
  done: 'source copy removed',
};

function placeOf(place: TenantMoveResult['to']): string {
  return `${place.server ? `server '${place.server}'` : 'its server'} (${place.tier} tier)`;
}

/** A run that started from a parked source verified again without counting rows: it says so rather than "0 rows". */
function movedDetails(result: TenantMoveResult): string {
  const verified = result.rows === undefined ? 'verified again after an earlier run' : `${result.rows} row(s) in ${result.tables ?? 0} table(s) verified`;
  if (result.pausedMs === undefined) return verified;
  const retried = (result.fenceAttempts ?? 1) > 1 ? ` (fence attempt ${result.fenceAttempts}; the earlier ones gave the tenant back)` : '';
  return `${verified}; writes paused ${result.pausedMs} ms${retried}`;
}
