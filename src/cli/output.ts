import type { MigrationStatus, TenantMigrationReport, TenantMigrationResult } from '../lifecycle/migration-report.js';

/** Where the CLI writes: results to stdout, progress to stderr; on a TTY progress redraws one line. */
export class CliOutput {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** A human line on stdout (suppressed in --json mode, where only the final JSON is printed). */
  line(text: string): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** The machine-readable result. */
  result(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  error(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Progress of a tenant fan-out: a redrawn counter on a TTY, one line per tenant otherwise. */
  tenantProgress(): (result: TenantMigrationResult, done: number, total: number) => void {
    if (this.json) return () => undefined;
    const tty = this.stderr.isTTY;
    let failed = 0;
    return (result, done, total) => {
      if (result.status === 'failed') failed++;
      if (tty) {
        this.stderr.write(`\r\x1b[2K  tenants ${done}/${total}${failed ? `, ${failed} failed` : ''}  (last: ${result.tenantId} ${result.status})`);
        if (done === total) this.stderr.write('\n');
      } else {
        this.stderr.write(`  ${describeResult(result)}\n`);
      }
    };
  }

  /** The counts, then each failed tenant and each invalid store row (its id escaped when it breaks the id rules). */
  tenantReport(report: TenantMigrationReport): void {
    const { counts, sharedTables } = report;
    // shared-table isolation: the migrations ran once, for every tenant
    if (sharedTables) this.line(`Shared tables of '${report.context}' (${report.direction}): ${describeResult(sharedTables).replace(/^\(shared tables\): /, '')}`);
    this.line(
      `Tenants of '${report.context}' (${report.direction}): ${counts.migrated} migrated, ${counts['up-to-date']} up to date, ` +
        `${counts.failed} failed, ${counts.skipped} skipped${counts.invalid ? `, ${counts.invalid} invalid store row(s)` : ''} in ${report.durationMs} ms`,
    );
    for (const result of report.tenants.filter((r) => r.status === 'failed')) this.line(`  FAILED ${result.tenantId}: ${result.error}`);
    for (const result of report.tenants.filter((r) => r.status === 'invalid')) this.line(`  INVALID ${result.tenantId}: ${result.error}`);
  }

  status(label: string, status: MigrationStatus): void {
    const state = status.invalid
      ? `INVALID store row: ${status.error}`
      : status.error
        ? `error: ${status.error}`
        : `${status.executed.length} executed, ${status.pending.length} pending`;
    this.line(`${label}: ${state}`);
    for (const name of status.pending) this.line(`    pending ${name}`);
  }
}

function describeResult(result: TenantMigrationResult): string {
  const detail = result.status === 'migrated' ? ` ${result.migrations.join(', ')}` : result.error ? ` ${result.error}` : '';
  return `${result.tenantId}: ${result.status}${detail} (${result.durationMs} ms)`;
}
