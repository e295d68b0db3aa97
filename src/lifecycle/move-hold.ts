import type { Logger } from '@nestjs/common';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { TenantRecord } from '../tenants/tenant-store.js';
import { RepeatedPublish } from './repeated-publish.js';

const DEFAULT_DRAIN_MS = 2_000;
/**
 * Other instances hold the tenant this long after the last 'moving' they heard; the mover repeats it every
 * MOVE_FENCE_RENEW_MS while its last step runs. So a mover killed in that step holds the fleet a few seconds, not
 * until a timeout sized for the slowest step (they then serve the record: rerun the move).
 */
const REMOTE_MOVE_FENCE_MS = 5_000;
const MOVE_FENCE_RENEW_MS = 1_500;

/** Holds one tenant's work on every app instance while its move takes the last step, and lets it go after. */
export class TenantMoveHold<T extends TenantRecord> {
  readonly #renewal: RepeatedPublish;

  constructor(
    private readonly tenants: TenantRuntime<T>,
    private readonly tenantId: string,
    private readonly drainTimeoutMs: number | undefined,
    private readonly logger: Logger,
  ) {
    this.#renewal = new RepeatedPublish(() => tenants.publish({ kind: 'moving', tenantId, fenceMs: REMOTE_MOVE_FENCE_MS }), MOVE_FENCE_RENEW_MS, logger);
  }

  /** New work of the tenant waits here and on every instance that hears 'moving'; running work gets a moment to finish. */
  async fence(): Promise<void> {
    const { tenants, tenantId } = this;
    tenants.fences.fenceMove(tenantId);
    await tenants.publish({ kind: 'moving', tenantId, fenceMs: REMOTE_MOVE_FENCE_MS });
    this.#renewal.start();
    const left = await tenants.fences.drained(tenantId, this.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
    if (left) this.logger.warn(`Tenant '${tenantId}': ${left} unit(s) of work still running as its move's last step begins; their writes wait for it`);
  }

  /** The tenant is served again, from its record (switched or not), here and on every instance. */
  async unfence(): Promise<void> {
    const { tenants, tenantId } = this;
    await this.#renewal.stop(); // before 'moved': a renewal heard after it would hold the tenant again
    tenants.directory.invalidate(tenantId);
    await tenants.isolation.forgetTenant(tenantId);
    tenants.fences.liftMove(tenantId);
    await tenants.publish({ kind: 'moved', tenantId });
  }

  /** Stops renewing: after a step that failed with the fence on, the other instances' hold then lapses. */
  stop(): Promise<void> {
    return this.#renewal.stop();
  }
}
