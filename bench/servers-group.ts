/**
 * Scenario 11 (issue 17, several PostgreSQL servers): the same SERVER_GROUP.tenants tenant schemas all on the bench
 * server (bench_srv_one), and in equal blocks on three servers (bench_srv_three on the bench server and on two more
 * embedded clusters started here). Every server runs on this machine, so the three share its cores: the ratio of
 * three servers to one shows what routing over servers and one pool per server cost, not added capacity.
 */
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../scripts/embedded-postgres.js';
import { createTenantSchemas, recreateDatabase, withDatabase } from './databases.js';
import type { Measurement } from './measure.js';
import { type BenchDatabases, SERVER_GROUP, SERVER_GROUP_DATABASES, serverGroupId } from './scenarios.js';
import { delta, ratio } from './stats.js';

/** Server names in `tenancy.servers`, in order: the first is the bench server. */
export const SERVER_NAMES = ['a', 'b', 'c'] as const;

/** The tenants (1-based numbers) of each of `servers` servers: consecutive equal blocks (the load picks tenants at random). */
export function serverBlocks(tenants: number, servers: number): { first: number; count: number }[] {
  const size = Math.ceil(tenants / servers);
  return Array.from({ length: servers }, (_, i) => ({ first: i * size + 1, count: Math.max(0, Math.min(size, tenants - i * size)) }));
}

export interface ServerGroup {
  databases: NonNullable<BenchDatabases['servers']>;
  /** Stops the clusters started here (the bench server's databases stay, like the other scenarios'). */
  stop(): Promise<void>;
}

/**
 * Makes scenario 11's databases, fresh: bench_srv_one with every tenant on the bench server at `adminUrl`;
 * bench_srv_three on it with the first block, and on each of two new embedded clusters with the next block.
 */
export async function prepareServerGroup(adminUrl: string, tenants: number, log: (line: string) => void): Promise<ServerGroup> {
  log(`creating ${tenants} tenant schemas on one server, then starting ${SERVER_GROUP.servers - 1} more PostgreSQL clusters for the ${SERVER_GROUP.servers}-server split`);
  await recreateDatabase(adminUrl, SERVER_GROUP_DATABASES.one);
  await createTenantSchemas(withDatabase(adminUrl, SERVER_GROUP_DATABASES.one), tenants, { parallel: 2 });
  const started: EmbeddedPostgres[] = [];
  const stop = async (): Promise<void> => void (await Promise.all(started.map((server) => server.stop())));
  try {
    for (let i = 1; i < SERVER_GROUP.servers; i++) started.push(await startEmbeddedPostgres());
    const admins = [adminUrl, ...started.map((server) => server.url)];
    const blocks = serverBlocks(tenants, admins.length);
    const three: string[] = [];
    for (const [i, admin] of admins.entries()) {
      const { first, count } = blocks[i] as { first: number; count: number };
      await recreateDatabase(admin, SERVER_GROUP_DATABASES.three);
      const url = withDatabase(admin, SERVER_GROUP_DATABASES.three);
      await createTenantSchemas(url, count, { first });
      three.push(url);
    }
    return { databases: { one: withDatabase(adminUrl, SERVER_GROUP_DATABASES.one), three }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** One line per workload: three servers against one, paired within each repetition (medians), for the run's log. */
export function serverGroupSummary(measurements: Measurement[]): string[] {
  const lines: string[] = [];
  for (const workload of ['findOne', 'relational'] as const) {
    const [one, three] = [serverGroupId(workload, 1), serverGroupId(workload, SERVER_GROUP.servers)];
    if (!measurements.some((m) => m.scenario === one) || !measurements.some((m) => m.scenario === three)) continue;
    const cpu = delta(measurements, three, one, 'cpuUsPerReq');
    lines.push(
      `servers, ${workload}: ${SERVER_GROUP.servers} servers / 1 server = ${fmt(ratio(measurements, three, one, 'reqPerSec'))}x req/s, ` +
        `${fmt(ratio(measurements, three, one, 'p99Ms'))}x p99, ${cpu >= 0 ? '+' : ''}${fmt(cpu, 0)} µs CPU/req (same-repetition medians)`,
    );
  }
  return lines;
}
