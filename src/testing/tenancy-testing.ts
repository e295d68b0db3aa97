import { type INestApplicationContext, Logger } from '@nestjs/common';
import { ReadOnlyTenantStoreError, TenancyNotConfiguredError } from '../errors/lifecycle.errors.js';
import { ownerMark } from '../isolation/storage-owner.js';
import { TenantLifecycle } from '../lifecycle/tenant-lifecycle.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { TenancyService, type TenantRun } from '../runtime/tenancy.service.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { cloneDatabase } from './clone-database.js';
import { type SchemaClone, cloneSchema, planSchemaClone } from './clone-schema.js';
import { countRows, isolationChanges } from './row-counts.js';
import { SharedTablesNotCopiedError, TenantIsolationViolation } from './template-errors.js';

export interface TenancyTestingOptions {
  /** The template tenant: migrated (and seeded) once, then cloned. Default `template_<Jest worker id or pid>`. */
  templateId?: string;
  /** Start of generated tenant ids. Default `t`. */
  prefix?: string;
}

/** Tells this worker's ids apart from other workers' sharing the server. */
const workerTag = (): string => process.env.JEST_WORKER_ID ?? String(process.pid);

/**
 * Tenants for tests, cheaply: one template tenant per Jest worker is created with its migrations (and seeder) the
 * usual way, and every test tenant is a copy of it, made in one transaction (schema mode: the template's schema is
 * cloned; database mode: `create database ... template`), instead of running every migration again. Also: run code as
 * a tenant, count a tenant's rows, and check that writing in one tenant changes no other. `cleanup()` drops the
 * tenants it made; the template stays for the next test file of the worker.
 */
export class TenancyTesting<T extends TenantRecord = TenantRecord> {
  readonly #logger = new Logger('TenancyTesting');
  readonly #made: string[] = [];
  #counter = 0;
  /** Schema mode: the copy's SQL, from the template's structure read on the first copy. */
  #plan?: Promise<SchemaClone>;

  private constructor(
    private readonly tenants: TenantRuntime<T>,
    private readonly lifecycle: TenantLifecycle<T>,
    private readonly tenancy: TenancyService<T>,
    readonly templateId: string,
    private readonly prefix: string,
  ) {}

  /** Creates (or brings up to date) the template tenant of this worker. Call once per test file, in `beforeAll`. */
  static async create<T extends TenantRecord = TenantRecord>(app: INestApplicationContext, options: TenancyTestingOptions = {}): Promise<TenancyTesting<T>> {
    const tenants = app.get(TenancyRuntime).tenants as TenantRuntime<T> | undefined;
    if (!tenants) throw new TenancyNotConfiguredError('TenancyTesting.create');
    if (tenants.isolation.kind === 'table') throw new SharedTablesNotCopiedError();
    if (tenants.options.sharedTier) throw new SharedTablesNotCopiedError(true);
    const lifecycle = app.get<TenantLifecycle<T>>(TenantLifecycle);
    const templateId = options.templateId ?? `template_${workerTag()}`;
    await lifecycle.create(templateId); // idempotent: a template left by an earlier file only gets pending migrations
    return new TenancyTesting(tenants, lifecycle, app.get<TenancyService<T>>(TenancyService), templateId, options.prefix ?? 't');
  }

  /** The tenants this kit made (and `cleanup()` drops). */
  get tenantIds(): readonly string[] {
    return this.#made;
  }

  /**
   * A new registered tenant, copied from the template: every migration applied and the template's rows (seed data),
   * under a fresh id (`<prefix><worker>_<n>_<random>`) unless `id` is given.
   */
  async createTenant(data: Partial<T> = {}, id = this.nextId()): Promise<T> {
    const tenants = this.tenants;
    tenants.validateId(id);
    const store = tenants.store;
    if (!store.add) throw new ReadOnlyTenantStoreError('add', id);
    const template = await tenants.directory.store.find(this.templateId);
    const record = { ...data, id } as T;
    if (!template) throw new TenancyNotConfiguredError(`TenancyTesting.createTenant: the template tenant '${this.templateId}' is gone`);
    const { provisioning, migrations } = tenants.isolation;
    const [from, to] = [provisioning.nameOf(template), provisioning.nameOf(record)];
    if (tenants.isolation.kind === 'schema') {
      await using handle = await this.tenancy.open(this.templateId);
      this.#plan ??= planSchemaClone(handle.em, from);
      const plan = this.#plan;
      plan.catch(() => (this.#plan = undefined)); // a refused template is read again next time (it may be fixed)
      await cloneSchema(handle.em, await plan, to, ownerMark(id));
    } else {
      await cloneDatabase(migrations.ormConfig(template), from, to, ownerMark(id), this.#logger);
    }
    this.#made.push(id);
    await store.add(record);
    tenants.directory.invalidate(id);
    await tenants.publish({ kind: 'created', tenantId: id });
    return record;
  }

  /** `TenancyService.run(tenantId, fn)`: the code runs as a request of that tenant would. */
  run<R>(tenantId: string, fn: (run: TenantRun<T>) => R | Promise<R>): Promise<R> {
    return this.tenancy.run(tenantId, fn);
  }

  /** Rows per table of the tenant's schema or database, read with SQL (not through the ORM under test). */
  async rowCounts(tenantId: string): Promise<Record<string, number>> {
    await using handle = await this.tenancy.open(tenantId);
    return countRows(handle.em, this.tenants.isolation.migrations.target(handle.tenant).schema);
  }

  /**
   * Runs `write` in `tenantId` and throws TenantIsolationViolation, naming each table, if any table of the `others`
   * (default: every other tenant this kit made) changed its row count meanwhile. Returns the writer's own changes.
   */
  async expectIsolated(tenantId: string, write: (run: TenantRun<T>) => unknown, others = this.#made.filter((id) => id !== tenantId)): Promise<Record<string, number>> {
    const before = await Promise.all([tenantId, ...others].map((id) => this.rowCounts(id)));
    await this.run(tenantId, write);
    const after = await Promise.all([tenantId, ...others].map((id) => this.rowCounts(id)));
    const changes = others.flatMap((id, i) => isolationChanges(before[i + 1] as Record<string, number>, after[i + 1] as Record<string, number>).map((change) => `tenant '${id}' ${change}`));
    if (changes.length) throw new TenantIsolationViolation(tenantId, changes);
    const own = before[0] as Record<string, number>;
    return Object.fromEntries(Object.entries(after[0] as Record<string, number>).map(([table, count]) => [table, count - (own[table] ?? 0)]).filter(([, delta]) => delta !== 0));
  }

  /** Drops every tenant this kit made (in `afterAll`); the template stays for the worker's next test file. */
  async cleanup(): Promise<void> {
    for (const id of this.#made.splice(0)) await this.lifecycle.drop(id, { confirm: id, drainTimeoutMs: 1000 });
  }

  /** Drops the template too (e.g. in a Jest global teardown, or when its migrations changed). */
  async dropTemplate(): Promise<void> {
    await this.lifecycle.drop(this.templateId, { confirm: this.templateId });
  }

  private nextId(): string {
    return `${this.prefix}${workerTag()}_${++this.#counter}_${Math.random().toString(36).slice(2, 7)}`;
  }
}
