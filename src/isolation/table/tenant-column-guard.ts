import { ChangeSetType, type EventSubscriber, type FlushEventArgs } from '@mikro-orm/core';
import { TenantColumnMismatchError } from '../../errors/isolation.errors.js';
import { TENANT_FILTER } from './shared-table-metadata.js';

/**
 * Table mode, in the ORM: before a flush writes anything, every new row gets the tenant of the unit of work in its
 * tenant column, and a row created with another tenant's value, or whose tenant column changed, stops the flush
 * (TenantColumnMismatchError). PostgreSQL's policies refuse the same writes; this makes the error clear and keeps
 * the guarantee where row-level security is turned off.
 */
export class TenantColumnGuard implements EventSubscriber {
  constructor(private readonly property: string) {}

  onFlush({ em, uow }: FlushEventArgs): void {
    const tenantId = (em.getFilterParams(TENANT_FILTER) as { id?: string } | undefined)?.id;
    for (const changeSet of uow.getChangeSets()) {
      if (!changeSet.meta.properties[this.property]) continue;
      const entity = changeSet.entity as Record<string, unknown>;
      if (changeSet.type === ChangeSetType.CREATE) {
        const written = entity[this.property];
        if (written === undefined || written === null) {
          if (tenantId === undefined) throw new TenantColumnMismatchError(undefined, changeSet.meta.className, 'create');
          entity[this.property] = tenantId;
          changeSet.payload[this.property] = tenantId;
        } else if (String(written) !== tenantId) {
          throw new TenantColumnMismatchError(tenantId, changeSet.meta.className, 'create');
        }
      } else if (changeSet.type === ChangeSetType.UPDATE && this.property in changeSet.payload) {
        throw new TenantColumnMismatchError(tenantId, changeSet.meta.className, 'move');
      }
    }
  }
}
