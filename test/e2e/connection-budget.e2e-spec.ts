/**
 * Database mode's boot-time connection budget check (issue 13), against the real test server: the worst case of one
 * app instance (maxOpenTenants x connectionsPerTenant, plus the pools of the static contexts on the same server)
 * compared with max_connections minus the reserved slots, read from PostgreSQL. Over budget: a warning with every
 * number and the fixes. Boot never fails for it, also when the server cannot be asked.
 */
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { MikroTenancyModule, TenantStores } from '../../src/index.js';
import { checkConnectionBudget } from '../../src/isolation/database/connection-budget.js';
import type { ContextConfig } from '../../src/options/tenancy-options.js';
import { analyticsSqliteConfig, primaryConfig, tenantTemplate } from '../fixtures/configs.js';
import { startApp } from '../support/http-app.js';
import { TestDatabases, sql } from '../support/test-databases.js';

/** A real Nest Logger that keeps warning and debug lines instead of printing them. */
class CapturingLogger extends Logger {
  readonly warnings: string[] = [];
  readonly debugs: string[] = [];

  override warn(message: unknown): void {
    this.warnings.push(String(message));
  }

  override debug(message: unknown): void {
    this.debugs.push(String(message));
  }
}

const databases = new TestDatabases();
let db: string;
let server: string;
/** The test server's own limits, read the way a reader of the warning would check them. */
let limits: { max: number; su: number; reserved: number };

beforeAll(async () => {
  db = await databases.create('budget');
  const template = tenantTemplate(db);
  server = `${template.host}:${template.port}`;
  const [row] = await sql<{ max: number; su: number; reserved: number }>(
    db,
    "select current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as su, current_setting('reserved_connections')::int as reserved",
  );
  limits = row as typeof limits;
});

afterAll(async () => {
  await databases.dropAll();
});

describe('connection budget check (database isolation)', () => {
  it('warns with every number when the worst case exceeds what the server accepts, counting only static contexts on the same server', async () => {
    const logger = new CapturingLogger('budget');
    const available = limits.max - limits.su - limits.reserved;
    const perTenant = 3;
    const maxOpenTenants = Math.ceil(available / perTenant) + 1; // just over
    const budget = await checkConnectionBudget({
      contextName: 'tenant',
      template: tenantTemplate(db),
      pool: { maxOpenTenants, connectionsPerTenant: perTenant },
      staticContexts: new Map<string, ContextConfig>([
        ['hub', primaryConfig(db)], // pool.max 4, same server
        ['elsewhere', { ...primaryConfig(db), port: 1 }], // another server: not counted
        ['analytics', analyticsSqliteConfig()], // not PostgreSQL: not counted
      ]),
      logger,
    });
    const tenants = maxOpenTenants * perTenant;
    expect(budget).toEqual({
      server,
      tenantConnections: tenants,
      staticContexts: [{ context: 'hub', max: 4 }],
      worstCase: tenants + 4,
      maxConnections: limits.max,
      superuserReserved: limits.su,
      reserved: limits.reserved,
      available,
    });
    expect(logger.warnings).toEqual([
      `Tenant context 'tenant' may open up to ${tenants + 4} connections to PostgreSQL at ${server}, more than the ${available} it accepts: ` +
        `tenancy.pool.maxOpenTenants ${maxOpenTenants} x connectionsPerTenant ${perTenant} = ${tenants} for tenant databases, plus 4 for the static ` +
        `contexts on that server ('hub' 4), against max_connections ${limits.max} - superuser_reserved_connections ${limits.su} - reserved_connections ` +
        `${limits.reserved} = ${available}. Under load, connections beyond that are refused ("too many clients"). Lower tenancy.pool.maxOpenTenants ` +
        `or connectionsPerTenant, raise max_connections, or put PgBouncer in front of PostgreSQL (docs/production.md). This counts one app ` +
        `instance: every other instance and CLI run needs its own share.`,
    ]);
  });

  it('stays quiet (a debug line) when the worst case fits', async () => {
    const logger = new CapturingLogger('budget');
    const budget = await checkConnectionBudget({
      contextName: 'tenant',
      template: tenantTemplate(db),
      pool: { maxOpenTenants: 2, connectionsPerTenant: 2 },
      staticContexts: new Map(),
      logger,
    });
    expect(budget?.worstCase).toBe(4);
    expect(logger.warnings).toEqual([]);
    expect(logger.debugs).toEqual([`Tenant context 'tenant': at most 4 connections to ${server}, which accepts ${limits.max - limits.su - limits.reserved}.`]);
  });

  it('says so, and does not throw, when the server cannot be asked', async () => {
    const logger = new CapturingLogger('budget');
    // port 1 on 127.0.0.1 refuses at once
    const budget = await checkConnectionBudget({
      contextName: 'tenant',
      template: { ...tenantTemplate(db), port: 1 },
      pool: { maxOpenTenants: 50, connectionsPerTenant: 5 },
      staticContexts: new Map(),
      logger,
    });
    expect(budget).toBeUndefined();
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(
      /^Tenant context 'tenant': could not read max_connections from PostgreSQL at 127\.0\.0\.1:1 to check the connection budget \(.*ECONNREFUSED.*\)\. Nothing else is affected; make sure the server accepts tenancy\.pool\.maxOpenTenants x connectionsPerTenant \(50 x 5\) plus the static contexts' pools\.$/,
    );
  });

  it('runs at boot of a database-mode app: the app starts and serves, and the warning is logged', async () => {
    const warnings: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    const available = limits.max - limits.su - limits.reserved;
    try {
      const app = await startApp({
        imports: [
          MikroTenancyModule.forRoot({
            tenancy: {
              isolation: 'database',
              config: tenantTemplate(db),
              store: TenantStores.static([{ id: 'acme' }]),
              database: (t) => ({ dbName: `${db}_${t.id}` }),
              pool: { maxOpenTenants: available, connectionsPerTenant: 2 },
            },
          }),
        ],
      });
      expect((await app.request('/nowhere')).status).toBe(404); // booted and serving
      await app.close(); // waits for the check, so its outcome is logged by now
    } finally {
      spy.mockRestore();
    }
    expect(warnings.filter((w) => w.includes('connections to PostgreSQL'))).toEqual([
      expect.stringContaining(
        `may open up to ${available * 2} connections to PostgreSQL at ${server}, more than the ${available} it accepts: ` +
          `tenancy.pool.maxOpenTenants ${available} x connectionsPerTenant 2 = ${available * 2} for tenant databases, against max_connections`,
      ),
    ]);
  });
});
