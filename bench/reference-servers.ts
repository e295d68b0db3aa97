import { type LoadedServer, PAIRED_REFERENCE_APP } from './paired.js';
import { type BenchDatabases, type Scenario, baselineOf } from './scenarios.js';
import { ServerProcess, cpuProfileArgs } from './server-process.js';
import { verifyScenario } from './verify.js';

/**
 * The baseline a scenario is paired with: plain @mikro-orm/nestjs on the same workload and adapter (the ceiling,
 * on node:http, with its express baseline); none for a baseline itself.
 */
export function pairedReferenceOf(scenario: Scenario, selected: readonly Scenario[]): Scenario | undefined {
  const id = scenario.adapter === 'node:http' ? scenario.baseline : baselineOf(scenario.workload, scenario.adapter);
  if (id === scenario.id) return undefined;
  const reference = selected.find((s) => s.id === id);
  if (!reference) throw new Error(`paired reference '${id}' of '${scenario.id}' is not among the selected scenarios`);
  return reference;
}

/**
 * A fresh server of the reference scenario for one paired measurement, its answers checked, its connections named
 * PAIRED_REFERENCE_APP (the scenario's PG probes leave them out). Fresh, like the scenario's: a reference kept running
 * for minutes would be warmer (JIT, caches) than a scenario booted seconds ago, and the pairs would favour it.
 */
export async function startReference(reference: Scenario, databases: BenchDatabases, connections: number): Promise<LoadedServer & { id: string }> {
  const server = await ServerProcess.start(reference.spec(databases), cpuProfileArgs(reference), { PGAPPNAME: PAIRED_REFERENCE_APP });
  try {
    await verifyScenario(server.port, reference);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { id: reference.id, server, load: { port: server.port, connections, tenants: reference.tenants, workload: reference.workload } };
}
