import { parseArgs } from 'node:util';
import { TenancyUsageError } from '../errors/options.errors.js';

export const HELP = `Usage: mikro-tenancy <command> [options]

Commands:
  db create         create the databases of the static contexts (and, in schema mode, the one holding the
                    tenant schemas) that do not exist yet; tenant databases are made by tenant create
  migrate up        apply pending migrations (every static context, then every tenant, unless narrowed)
  migrate down      revert the last migration of --context (tenants: of each selected tenant)
  migrate status    executed and pending migrations
  migrate create    generate the next migration of --context from its entities
  tenant create <id>   provision, migrate, seed and register a tenant (idempotent)
  tenant drop <id>     fence the tenant on every instance, let running work finish (--drain-timeout), then remove
                       its schema or database and its store entry (needs --yes; exit 1 when there was nothing to drop)
  tenant suspend <id>  refuse the tenant's requests (403) on every app instance
  tenant resume <id>   serve a suspended tenant again
  tenant move <id>     move the tenant to --server and/or --tier: copied online by PostgreSQL logical
                       replication, writes paused only for the final catch-up; resumable (rerun after a failure)
  tenant list          registered tenants (and their server)
  outbox status        outbox messages per sender: pending, dead (with their last error), delivered; exit 1 when
                       a message is dead or a sender cannot be read
  outbox retry <id>    make a dead (or backing-off) message due again; --dead: every dead message (exit 1 when
                       the id matches no pending or dead message)
  outbox relay         relay the outbox once now (the app's background relay never runs in the CLI)

Options:
  --module <file[#Export]>  the Nest module to boot (default: package.json "mikro-tenancy.module",
                            then dist/app.module.js, src/app.module.ts; export AppModule)
  --context <name>          one context (a static one, or the tenant context)
  --tenant <a,b>            only these tenants (implies the tenant context)
  --all-tenants             every tenant (the default for the tenant context)
  --concurrency <n>         tenants migrated at once (default 1), one connection each
  --continue-on-error       go on after a tenant fails (default: stop, let running ones finish)
  --to <migration>          up: stop at this migration; down: revert down to it (0 = all)
  --name <name>             migrate create: name of the migration
  --blank                   migrate create: an empty migration
  --data <json>             tenant create: the tenant record's other fields, e.g. '{"name":"Acme"}'
  --server <name>           tenant create: the server to place it on (default: tenancy.placement);
                            tenant move: the server to move it to
  --tier <tier>             tenant create: the tier to put it in (shared, schema or database: tenancy.sharedTier,
                            tenancy.databaseTier); tenant move: the tier to move it to (shared, schema or database)
  --yes                     tenant drop: confirm
  --dead                    outbox retry: every dead message (narrow with --context or --tenant)
  --drain-timeout <ms>      tenant drop: how long running work may take before it is ended (default 10000)
  --json                    print the result as JSON (for scripts)
  -h, --help                this help

Exit code: 0 when everything succeeded, 1 when a context or tenant failed, 2 on a usage or boot error.`;

export interface CliArgs {
  command: string;
  subcommand?: string;
  target?: string;
  module?: string;
  context?: string;
  tenants?: string[];
  allTenants: boolean;
  concurrency: number;
  continueOnError: boolean;
  to?: string;
  name?: string;
  blank: boolean;
  data?: Record<string, unknown>;
  server?: string;
  tier?: 'shared' | 'schema' | 'database';
  yes: boolean;
  dead: boolean;
  drainTimeoutMs?: number;
  json: boolean;
  help: boolean;
}

/** A mistake in how the CLI was called: printed with the help, exit code 2. */
/** Wrong CLI arguments; the CLI prints the message and its usage. */
export class UsageError extends TenancyUsageError {}

export function parseCliArgs(argv: string[]): CliArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      module: { type: 'string' },
      context: { type: 'string' },
      tenant: { type: 'string' },
      'all-tenants': { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      'continue-on-error': { type: 'boolean', default: false },
      to: { type: 'string' },
      name: { type: 'string' },
      blank: { type: 'boolean', default: false },
      data: { type: 'string' },
      server: { type: 'string' },
      tier: { type: 'string' },
      yes: { type: 'boolean', default: false },
      dead: { type: 'boolean', default: false },
      'drain-timeout': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command = '', subcommand, target] = positionals;
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number >= 1, got '${values.concurrency}'`);
  const drainTimeoutMs = values['drain-timeout'] === undefined ? undefined : Number(values['drain-timeout']);
  if (drainTimeoutMs !== undefined && (!Number.isInteger(drainTimeoutMs) || drainTimeoutMs < 0)) {
    throw new UsageError(`--drain-timeout must be a whole number of milliseconds >= 0, got '${values['drain-timeout']}'`);
  }
  if (values.tenant !== undefined && values['all-tenants']) throw new UsageError('use either --tenant or --all-tenants, not both');
  return {
    command,
    subcommand,
    target,
    module: values.module,
    context: values.context,
    tenants: values.tenant?.split(',').map((id) => id.trim()).filter(Boolean),
    allTenants: values['all-tenants'],
    concurrency,
    continueOnError: values['continue-on-error'],
    to: values.to,
    name: values.name,
    blank: values.blank,
    data: values.data === undefined ? undefined : parseData(values.data),
    server: values.server,
    tier: parseTier(values.tier),
    yes: values.yes,
    dead: values.dead,
    drainTimeoutMs,
    json: values.json,
    help: values.help,
  };
}

function parseTier(tier: string | undefined): CliArgs['tier'] {
  if (tier === undefined || tier === 'shared' || tier === 'schema' || tier === 'database') return tier;
  throw new UsageError(`--tier must be 'shared', 'schema' or 'database', got '${tier}'`);
}

function parseData(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new UsageError('--data must be a JSON object, e.g. \'{"name":"Acme"}\'');
  return data as Record<string, unknown>;
}
