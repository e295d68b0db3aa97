import type { INestApplicationContext } from '@nestjs/common';
import { TenancyRuntime } from '../../src/runtime/tenancy-runtime.js';
import { SharedTablesNotCopiedError, TenancyTesting } from '../../src/testing/index.js';

describe('TenancyTesting.create', () => {
  it('refuses shared-table mode, where there is no schema or database to copy, and says what to use', async () => {
    // only the container lookup is stood in for: the refusal happens before anything else is used
    const app = { get: (token: unknown) => (token === TenancyRuntime ? { tenants: { isolation: { kind: 'table' } } } : undefined) } as unknown as INestApplicationContext;
    const created = TenancyTesting.create(app);
    await expect(created).rejects.toThrow(SharedTablesNotCopiedError);
    await expect(created).rejects.toThrow(/Create test tenants with TenantLifecycle\.create/);
  });
});
