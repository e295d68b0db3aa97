/**
 * Runs one schema move (the engine, in-process here) and SIGKILLs itself at the step named by MOVE_KILL_AT, so
 * the test can check that a rerun continues from whatever PostgreSQL shows. Prints `step <name>` as it goes.
 */
import { moveSchema } from '../../../src/isolation/move/schema-move.js';
import { moveOptions, openSide, worldFromEnv } from './tenant-move-world.js';

const world = worldFromEnv();
const { MOVE_SCHEMA, MOVE_ID, MOVE_KILL_AT } = process.env;
const source = await openSide(world.sourceUrl);
const target = await openSide(world.targetUrl);
await moveSchema(
  moveOptions(world, MOVE_SCHEMA!, MOVE_ID!, { source: source.side, target: target.side }, {
    onStep: (step) => {
      process.stdout.write(`step ${step}\n`);
      if (step === MOVE_KILL_AT) process.kill(process.pid, 'SIGKILL');
    },
  }),
);
process.stdout.write('move finished\n');
await source.orm.close();
await target.orm.close();
