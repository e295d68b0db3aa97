/**
 * `node --import @swc-node/register/esm-register bench/profile-summary.ts <a.cpuprofile> [b.cpuprofile ...]`: where
 * the busy time of each V8 CPU profile (BENCH_CPU_PROF=<scenario>, see measure.ts) went, by layer: this library,
 * MikroORM, Kysely, pg, NestJS, the HTTP framework, Node internals, GC. Self time only (a frame's own samples); idle
 * and program samples are left out. With the bench log's CPU µs per request, a share turns into µs per request.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The layer of a frame, from its script URL (first match wins). */
const LAYERS: [string, RegExp][] = [
  ['library (src/)', /^(?!.*node_modules).*\/src\/|nestjs-mikro-tenancy\/dist\//],
  ['bench server', /^(?!.*node_modules).*\/bench\//],
  ['@mikro-orm/core', /@mikro-orm\/core/],
  ['@mikro-orm/sql + postgresql', /@mikro-orm\/(sql|knex|postgresql)/],
  ['@mikro-orm/nestjs', /@mikro-orm\/nestjs/],
  ['kysely', /\/kysely\//],
  ['pg', /\/(pg|pg-protocol|pg-pool|pg-types|postgres-array|pg-cloudflare)\//],
  ['@nestjs', /@nestjs\//],
  ['rxjs', /\/rxjs\//],
  ['express / fastify', /\/(express|router|fastify|find-my-way|body-parser|light-my-request|avvio|send|qs|raw-body)\//],
  ['other node_modules', /node_modules/],
  ['node internals', /^node:|^internal\//],
];

function layerOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') return '(idle/program)';
  if (!url) return 'native / builtins';
  return LAYERS.find(([, pattern]) => pattern.test(url))?.[0] ?? 'other';
}

function summarize(profile: CpuProfile): Map<string, number> {
  const layer = new Map(profile.nodes.map((n) => [n.id, layerOf(n)]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = layer.get(id) ?? 'other';
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return totals;
}

function main(files: string[]): void {
  if (!files.length) throw new Error('usage: profile-summary.ts <file.cpuprofile> [...]');
  const summaries = files.map((file) => ({ file, totals: summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) }));
  const layers = [...new Set(summaries.flatMap((s) => [...s.totals.keys()]))].filter((l) => l !== '(idle/program)').sort();
  const busy = summaries.map((s) => [...s.totals].filter(([l]) => l !== '(idle/program)').reduce((sum, [, us]) => sum + us, 0));
  const lines = [`| layer | ${summaries.map((s) => basename(s.file)).join(' | ')} |`, `| --- |${summaries.map(() => ' ---: |').join('')}`];
  for (const l of layers) {
    lines.push(`| ${l} | ${summaries.map((s, i) => `${(((s.totals.get(l) ?? 0) / (busy[i] || 1)) * 100).toFixed(1)}%`).join(' | ')} |`);
  }
  lines.push(`| busy ms | ${busy.map((us) => (us / 1000).toFixed(0)).join(' | ')} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main(process.argv.slice(2));
