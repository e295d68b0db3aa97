import type { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { isPostgreSqlDriver } from '../isolation/pg-pool-guards.js';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { TenancyService } from '../runtime/tenancy.service.js';
import { FIX_THE_ROW, tenantRowProblem } from '../runtime/tenant-row-problem.js';
import { OutboxMessage } from './outbox-message.entity.js';
import { OutboxSetupError, OutboxUsageError } from './outbox.errors.js';

/** Where messages are sent from: a static context, or one tenant (its schema or database). */
export type OutboxSource = { kind: 'context'; context: string } | { kind: 'tenant'; tenantId: string };

/** `context:hub` or `tenant:acme`: the receipt's `source`, and the name in reports. */
export function sourceLabel(source: OutboxSource): string {
  return source.kind === 'context' ? `context:${source.context}` : `tenant:${source.tenantId}`;
}

/** For log lines and errors: `context 'hub'`, `tenant 'acme'` (tenant ids come validated from the store or a scope). */
export function describeSource(source: OutboxSource): string {
  return source.kind === 'context' ? `context '${source.context}'` : `tenant '${source.tenantId}'`;
}

/** Which sources to cover; default: every static context with the outbox, and every tenant. */
export interface OutboxSelection {
  /** Only these static contexts (none when only `tenants` is given). */
  contexts?: string[];
  /**
   * Only these tenants, or `'all'` of them (none when only `contexts` is given). Suspended tenants named here fail, as
   * in run().
   */
  tenants?: string[] | 'all';
}

/** Finds the senders and runs work inside one: a static context's fork, or `TenancyService.run(tenantId, ...)`. */
@Injectable()
export class OutboxSources implements OnModuleInit {
  readonly #logger = new Logger('Outbox');
  #statics?: string[];

  constructor(
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
    @Inject(TenancyService) private readonly tenancy: TenancyService,
  ) {}

  /** The relay claims with `for update skip locked`: a sender on another database would fail at its first pass. */
  onModuleInit(): void {
    const other = this.staticContexts.filter((name) => !isPostgreSqlDriver(this.runtime.orm(name).config.get('driver')));
    if (other.length) {
      throw new OutboxSetupError(
        `${other.map((n) => `context '${n}'`).join(', ')}: OutboxMessage is among its entities, but only PostgreSQL contexts can send ` +
          `(the relay claims messages with for update skip locked). Remove OutboxMessage there; such a context can still receive (OutboxReceipt).`,
      );
    }
  }

  /** Static contexts whose entities include OutboxMessage. */
  get staticContexts(): string[] {
    this.#statics ??= this.runtime.contextNames.filter((name) => this.runtime.orm(name).getMetadata().find(OutboxMessage) !== undefined);
    return this.#statics;
  }

  /** The tenant context's name, or undefined when there is none. */
  get tenantContext(): string | undefined {
    return this.runtime.tenantContextName;
  }

  /**
   * Whether tenants may send: the template lists OutboxMessage, or lists entities by path (then each tenant's
   * metadata decides, see `run`).
   */
  get tenantsMaySend(): boolean {
    const entities = this.runtime.tenants?.options.config.entities;
    if (!entities) return this.runtime.tenants !== undefined;
    return (entities as unknown[]).some((e) => e === OutboxMessage || typeof e === 'string' || (e as { class?: unknown }).class === OutboxMessage);
  }

  /** The sources a selection covers. Tenants: listed from the store, suspended ones and invalid rows left out. */
  async select(selection: OutboxSelection = {}): Promise<OutboxSource[]> {
    const narrowed = selection.contexts !== undefined || selection.tenants !== undefined;
    const contexts = narrowed ? (selection.contexts ?? []) : this.staticContexts;
    const unknown = contexts.filter((name) => !this.staticContexts.includes(name));
    if (unknown.length) {
      throw new OutboxUsageError(
        `${unknown.map((n) => `'${n}'`).join(', ')}: not a static context with an outbox (those are: ${this.staticContexts.join(', ') || 'none'}; ` +
          `a context sends once OutboxMessage is among its entities)`,
      );
    }
    const sources: OutboxSource[] = contexts.map((context) => ({ kind: 'context', context }));
    const everyTenant = narrowed ? selection.tenants === 'all' : this.tenantsMaySend;
    const tenantIds = everyTenant ? await this.listTenants() : Array.isArray(selection.tenants) ? selection.tenants : [];
    // ids named by the caller (the CLI's --tenant) are checked before any is run, reported or logged
    if (!everyTenant) for (const id of tenantIds) this.runtime.tenants?.validateId(id);
    return [...sources, ...tenantIds.map((tenantId): OutboxSource => ({ kind: 'tenant', tenantId }))];
  }

  /**
   * Runs `fn` with a fresh EntityManager of the source, in a scope like a request's (`TenancyService.run`), so that
   * handlers see the sending tenant as the current one. Returns undefined when the source has no outbox table entity.
   */
  run<R>(source: OutboxSource, fn: (em: EntityManager) => Promise<R>): Promise<R | undefined> {
    const inScope = (em: EntityManager) => (em.getMetadata().find(OutboxMessage) ? fn(em) : Promise.resolve(undefined));
    if (source.kind === 'context') {
      const orm = this.runtime.orm(source.context);
      return this.tenancy.run(() => inScope(orm.em.fork()));
    }
    return this.tenancy.run(source.tenantId, (run) => inScope(run.em));
  }

  private async listTenants(): Promise<string[]> {
    const tenants = this.runtime.tenants;
    if (!tenants) return [];
    const records = await tenants.store.list();
    return records
      .filter((record) => {
        if (record.suspended) return false; // relayed again once resumed
        const problem = tenantRowProblem(tenants, record);
        if (problem) this.#logger.error(`Outbox: the tenant store lists ${problem.shownId}: ${problem.rule} ${FIX_THE_ROW}`);
        return problem === undefined;
      })
      .map((record) => record.id);
  }
}
