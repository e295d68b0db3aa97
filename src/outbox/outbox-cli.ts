import type { INestApplicationContext } from '@nestjs/common';
import { outboxOf } from './outbox-of-app.js';
import type { OutboxSelection } from './outbox-source.js';
import type { OutboxStatusReport } from './outbox-status.js';
import type { Outbox } from './outbox.service.js';

/** The CLI's arguments the outbox commands read. */
export interface OutboxCliArgs {
  subcommand?: string;
  target?: string;
  context?: string;
  tenants?: string[];
  allTenants?: boolean;
  dead?: boolean;
}

/** Where they write (the CLI's CliOutput): human lines, and the JSON result in --json mode. */
export interface OutboxCliOutput {
  line(text: string): void;
  result(value: unknown): void;
}

/**
 * The CLI boots the app's module, relay included: it must never deliver messages as a side effect of another command.
 * Called right after boot; the relay's first pass waits one interval, so it has not begun unless another module's
 * onApplicationBootstrap took longer than that (the pass then ends before the command runs).
 */
export async function stopOutboxRelay(app: INestApplicationContext): Promise<void> {
  await outboxOf(app)?.relay.stop();
}

/** The CLI's own usage error (exit code 2), made by the caller: the CLI sits above this folder. */
export type UsageErrorOf = (message: string) => Error;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `mikro-tenancy outbox status|retry|relay`; returns the exit code (0 ok, 1 something is dead, failed or not found). */
export async function runOutboxCommand(app: INestApplicationContext, args: OutboxCliArgs, out: OutboxCliOutput, usage: UsageErrorOf): Promise<number> {
  const outbox = outboxOf(app);
  if (!outbox) throw usage('the app does not import OutboxModule: add OutboxModule.forRoot() next to MikroTenancyModule.forRoot');
  const selection = selectionOf(args, outbox);
  switch (args.subcommand) {
    case 'status':
      return status(await outbox.status(selection), out);
    case 'retry':
      if (Boolean(args.dead) === Boolean(args.target)) throw usage('outbox retry needs a message id or --dead (not both)');
      if (args.target && !UUID.test(args.target)) throw usage(`outbox retry: '${args.target}' is not a message id (a UUID, as outbox status shows it)`);
      return retry(outbox, args, selection, out);
    case 'relay': {
      const report = await outbox.relayOnce(selection);
      out.line(
        `Relayed ${report.sources} source(s): ${report.delivered} delivered, ${report.duplicates} already received, ` +
          `${report.failed} failed (${report.deadLettered} now dead), ${report.deferred} deferred (receiver unavailable)`,
      );
      for (const { source, error } of report.errors) out.line(`  FAILED ${source}: ${error}`);
      out.result(report);
      return report.errors.length ? 1 : 0;
    }
    default:
      throw usage(`unknown command 'outbox ${args.subcommand ?? ''}'; use outbox status, outbox retry <id>|--dead, or outbox relay`);
  }
}

function status(report: OutboxStatusReport, out: OutboxCliOutput): number {
  for (const s of report.sources) {
    const oldest = s.oldestPendingAt ? ` (oldest since ${s.oldestPendingAt.toISOString()})` : '';
    out.line(`${s.source}: ${s.pending} pending${oldest}, ${s.dead} dead, ${s.delivered} delivered`);
    for (const m of s.deadMessages) out.line(`  DEAD ${m.id} ${m.topic} -> ${m.to}, ${m.attempts} attempts: ${m.lastError ?? ''}`);
  }
  for (const { source, error } of report.errors) out.line(`${source}: could not be read: ${error}`);
  out.line(`Total: ${report.totals.pending} pending, ${report.totals.dead} dead, ${report.totals.delivered} delivered`);
  out.result(report);
  return report.ok ? 0 : 1;
}

async function retry(outbox: Outbox, args: OutboxCliArgs, selection: OutboxSelection | undefined, out: OutboxCliOutput): Promise<number> {
  const result = await outbox.retry(args.target ?? { dead: true }, selection);
  for (const { source, id } of result.retried) out.line(`Retrying ${id} (${source})`);
  for (const { source, error } of result.errors) out.line(`  FAILED ${source}: ${error}`);
  if (result.retried.length === 0) {
    out.line(args.target ? `Nothing to retry: no pending or dead message ${args.target} (a mistyped id, or delivered already)` : 'Nothing to retry: no dead messages');
  }
  out.result(result);
  // a mistyped id must not look like success; "no dead messages" is a fine outcome of --dead
  return result.errors.length || (args.target && result.retried.length === 0) ? 1 : 0;
}

function selectionOf(args: OutboxCliArgs, outbox: Outbox): OutboxSelection | undefined {
  if (args.tenants) return { tenants: args.tenants };
  if (args.allTenants || (args.context !== undefined && args.context === outbox.tenantContextName)) return { tenants: 'all' };
  if (args.context !== undefined) return { contexts: [args.context] };
  return undefined;
}
