import { type LoadedServer, PAIRED_REFERENCE_APP } from './paired.js';
import { type BenchDatabases, type Scenario, baselineOf } from './scenarios.js';
import { ServerProcess } from './server-process.js';
import type { BenchSettings } from './settings.js';
import { verifyScenario } from './verify.js';

/**
 * The baseline a scenario is paired with: plain @mikro-orm/nestjs on the same workload and adapter (the ceiling,
 * on node:http, with its express baseline); none for a baseline itself.
 */
export function pairedReferenceOf(scenario: Scenario): string | undefined {
  const reference = scenario.adapter === 'node:http' ? scenario.baseline : baselineOf(scenario.workload, scenario.adapter);
  return reference === scenario.id ? undefined : reference;
}

/**
 * The reference servers of one repetition: each started on first use (its answers checked once), then kept running,
 * idle between its windows, and stopped at the end of the repetition. Its connections carry PAIRED_REFERENCE_APP.
 */
export class ReferenceServers {
  readonly #running = new Map<string, Promise<LoadedServer & { id: string }>>();

  constructor(
    private readonly scenarios: readonly Scenario[],
    private readonly databases: BenchDatabases,
    private readonly settings: Pick<BenchSettings, 'connections'>,
  ) {}

  /** The running reference for `scenario`, or undefined when it has none. */
  async for(scenario: Scenario): Promise<(LoadedServer & { id: string }) | undefined> {
    const id = pairedReferenceOf(scenario);
    if (!id) return undefined;
    let running = this.#running.get(id);
    if (!running) {
      running = this.start(id);
      this.#running.set(id, running);
    }
    return running;
  }

  async stopAll(): Promise<void> {
    const running = [...this.#running.values()];
    this.#running.clear();
    const servers = await Promise.allSettled(running);
    await Promise.all(servers.map((s) => (s.status === 'fulfilled' ? s.value.server.stop() : undefined)));
  }

  private async start(id: string): Promise<LoadedServer & { id: string }> {
    const reference = this.scenarios.find((s) => s.id === id);
    if (!reference) throw new Error(`paired reference '${id}' is not among the selected scenarios`);
    const server = await ServerProcess.start(reference.spec(this.databases), [], { PGAPPNAME: PAIRED_REFERENCE_APP });
    await verifyScenario(server.port, reference);
    return { id, server, load: { port: server.port, connections: this.settings.connections, tenants: reference.tenants, workload: reference.workload } };
  }
}
