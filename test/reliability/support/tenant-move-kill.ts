/**
 * The SIGKILL-and-rerun check of tenant-move-engine.rel-spec.ts, on any route (two servers, or two databases of
 * one server): the move runs in tenant-move-child.ts, which kills itself at a step; the rerun must complete.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { moveIdFor } from '../../../src/isolation/move/move-names.js';
import type { MoveSide } from '../../../src/isolation/move/move-sql.js';
import { moveSchema, type SchemaMoveStep } from '../../../src/isolation/move/schema-move.js';
import { TsProcess } from './child-process.js';
import { expectMovedIntact } from './tenant-move-expect.js';
import { createTenant, moveOptions, type MoveWorld, recordSide, runSql, snapshotOf, worldEnv } from './tenant-move-world.js';
import { MoveWriters } from './tenant-move-writers.js';

/** Two databases a tenant moves between, the engine's sides on them, and the key naming the target (moveIdFor). */
export interface Route {
  readonly world: MoveWorld;
  readonly sides: { source: MoveSide; target: MoveSide };
  readonly targetKey: string;
}

/** Runs the move in a child process that SIGKILLs itself at `killAt`, checks what is writable, reruns it, checks the end state. */
export async function killAndRerun(route: Route, label: string, schema: string, killAt: SchemaMoveStep, resumedFrom: string): Promise<void> {
  const { world: w } = route;
  const seeded = 20_000;
  const moveId = moveIdFor(schema, route.targetKey);
  await createTenant(w, schema, seeded);
  const before = await snapshotOf(w.sourceUrl, schema);
  const writers = new MoveWriters(w, schema, 4);
  try {
    const child = new TsProcess('test/reliability/support/tenant-move-child.ts', [], { ...worldEnv(w), MOVE_SCHEMA: schema, MOVE_ID: moveId, MOVE_KILL_AT: killAt });
    const exit = await child.exited;
    expect({ signal: exit.signal, lastLine: exit.stdout.trim().split('\n').at(-1) }).toEqual({ signal: 'SIGKILL', lastLine: `step ${killAt}` });

    // after the kill: the source is writable only while the record points at it
    expect(await recordSide(w, schema)).toBe(killAt === 'switched' ? 'target' : 'source');
    const sourceWritable = await runSql(w.sourceUrl, `insert into "${schema}".customer (name) values ('probe') returning id`).then(
      () => true,
      (e: { code?: string }) => (e.code === '42P01' ? false : Promise.reject(e)),
    );
    expect({ killAt, sourceWritable }).toEqual({ killAt, sourceWritable: killAt === 'target-ready' || killAt === 'subscribed' || killAt === 'fence-verified' });
    if (sourceWritable) await runSql(w.sourceUrl, `delete from "${schema}".customer where name = 'probe'`);

    const options = moveOptions(w, schema, moveId, route.sides);
    const report = await moveSchema(options);
    await sleep(200); // writers go on, on the target
    await writers.stop();
    expect(report.startedAt).toBe(resumedFrom);
    expect(options.fences.switches).toBe(killAt === 'switched' ? 0 : 1);
    expect(await recordSide(w, schema)).toBe('target');
    await expectMovedIntact(w, schema, moveId, writers, before);
    process.stdout.write(
      `[tenant move] ${label}: killed at ${killAt} (${exit.stdout.trim().split('\n').length} step(s) printed), ` +
        `rerun from '${report.startedAt}': fenced ${report.fencedMs ?? '-'} ms, ${writers.acks.notes.length} inserts acknowledged, 0 lost\n`,
    );
  } finally {
    await writers.stop();
  }
}
