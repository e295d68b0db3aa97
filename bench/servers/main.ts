/**
 * Entry of one scenario's server process, forked by the orchestrator with the spec in BENCH_SERVER: builds the
 * server, reports `ready` with its port over IPC, answers `usage` probes, and closes cleanly on `stop` (or when
 * the orchestrator goes away).
 */
import 'reflect-metadata';
import type { ServerSpec } from '../scenarios.js';
import { startBarePg } from './bare-pg.js';
import { type FromServer, type RunningServer, type ToServer, usageNow } from './protocol.js';

function send(message: FromServer): void {
  process.send?.(message);
}

async function start(spec: ServerSpec): Promise<RunningServer> {
  if (spec.kind === 'bare-pg') return startBarePg(spec.url);
  // Nest and MikroORM are loaded only by the scenarios that use them, so the ceiling's RSS stays its own
  const { startNestApp } = await import('./nest-app.js');
  if (spec.kind === 'nest-mikro') {
    const { nestMikroModule } = await import('./nest-mikro.module.js');
    return startNestApp(nestMikroModule(spec.url), spec.adapter);
  }
  if (spec.kind === 'by-hand-schema') {
    const { byHandSchemaModule } = await import('./by-hand.module.js');
    return startNestApp(byHandSchemaModule(spec.url, spec.tenants), spec.adapter);
  }
  if (spec.kind === 'by-hand-database') {
    const { byHandDatabaseModule } = await import('./by-hand-database.module.js');
    return startNestApp(byHandDatabaseModule(spec.url, spec.tenants, spec.connectionsPerTenant), spec.adapter);
  }
  if (spec.kind === 'library-servers') {
    const { serversModule } = await import('./servers.module.js');
    return startNestApp(serversModule(spec), spec.adapter);
  }
  const { libraryModule } = await import('./library.module.js');
  return startNestApp(libraryModule(spec), spec.adapter);
}

async function main(): Promise<void> {
  const raw = process.env.BENCH_SERVER;
  if (!raw || !process.send) throw new Error('bench/servers/main.ts is started by bench/run.ts (needs BENCH_SERVER and an IPC channel)');
  const server = await start(JSON.parse(raw) as ServerSpec);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.disconnect?.();
    process.exit(0);
  };
  process.on('message', (message: ToServer) => {
    if (message.type === 'usage') send({ type: 'usage', usage: usageNow() });
    else if (message.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop()); // orchestrator gone: never outlive it
  send({ type: 'ready', port: server.port });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
