/**
 * `node --import @swc-node/register/esm-register bench/profile-summary.ts [options] <a.cpuprofile> [b.cpuprofile ...]`:
 * where the busy time of V8 CPU profiles (BENCH_CPU_PROF=<scenario>[,...], see server-process.ts) went, by layer: this
 * library, MikroORM, Kysely, pg, NestJS, the HTTP framework, Node internals, GC. Self time only (a frame's own
 * samples); idle and program samples are left out.
 *
 * Options:
 * - `--last <s>`: only samples of the last <s> seconds of each profile (minus its last 0.5 s, the shutdown), e.g. the
 *   measured windows, not the boot.
 * - `--requests <n>[,<n>...]`: requests each profile's server completed in that span: figures become µs per request.
 * - `--top <k>`: also the k functions whose self time differs most between the first two profiles.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
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
  ['reflect-metadata', /\/reflect-metadata\//],
  ['rxjs', /\/rxjs\//],
  ['express / fastify', /\/(express|router|fastify|find-my-way|body-parser|light-my-request|avvio|send|qs|raw-body)\//],
  ['other node_modules', /node_modules/],
  ['node internals', /^node:|^internal\//],
];
const IDLE = new Set(['(idle)', '(program)', '(root)']);

function layerOf(frame: ProfileNode['callFrame']): string {
  if (frame.functionName === '(garbage collector)') return 'GC';
  if (!frame.url) return 'native / builtins';
  return LAYERS.find(([, pattern]) => pattern.test(frame.url))?.[0] ?? 'other';
}

function functionOf(frame: ProfileNode['callFrame']): string {
  const where = frame.url.includes('node_modules/') ? frame.url.split('node_modules/').pop() : frame.url.split('/').pop();
  return `${frame.functionName || '(anonymous)'} ${where ?? ''}:${frame.lineNumber + 1}`;
}

/** Self time (µs) by layer and by function, over the samples in the span. */
function summarize(profile: CpuProfile, lastS: number | undefined): { layers: Map<string, number>; functions: Map<string, number> } {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const at: number[] = [];
  let clock = profile.startTime;
  for (const delta of profile.timeDeltas) at.push((clock += delta));
  const end = at[at.length - 1] ?? profile.startTime;
  const from = lastS === undefined ? Number.NEGATIVE_INFINITY : end - (lastS + 0.5) * 1e6;
  const to = lastS === undefined ? Number.POSITIVE_INFINITY : end - 0.5e6;
  const layers = new Map<string, number>();
  const functions = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const time = at[i] as number;
    const frame = frames.get(id);
    if (!frame || time < from || time > to || IDLE.has(frame.functionName)) return;
    const us = profile.timeDeltas[i] ?? 0;
    layers.set(layerOf(frame), (layers.get(layerOf(frame)) ?? 0) + us);
    functions.set(functionOf(frame), (functions.get(functionOf(frame)) ?? 0) + us);
  });
  return { layers, functions };
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
}

function main(args: string[]): void {
  const lastS = option(args, '--last');
  const requests = option(args, '--requests')?.split(',').map(Number);
  const top = Number(option(args, '--top') ?? 0);
  if (!args.length) throw new Error('usage: profile-summary.ts [--last <s>] [--requests <n>,...] [--top <k>] <file.cpuprofile> [...]');
  const runs = args.map((file) => ({ file, ...summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, lastS === undefined ? undefined : Number(lastS)) }));
  const busy = runs.map((r) => [...r.layers.values()].reduce((sum, us) => sum + us, 0));
  const show = (us: number, i: number): string => (requests?.[i] ? `${(us / requests[i]).toFixed(1)} µs/req` : `${((us / (busy[i] || 1)) * 100).toFixed(1)}%`);
  const lines = [`| layer | ${runs.map((r) => basename(r.file)).join(' | ')} |`, `| --- |${runs.map(() => ' ---: |').join('')}`];
  for (const layer of [...new Set(runs.flatMap((r) => [...r.layers.keys()]))].sort()) {
    lines.push(`| ${layer} | ${runs.map((r, i) => show(r.layers.get(layer) ?? 0, i)).join(' | ')} |`);
  }
  lines.push(`| busy | ${busy.map((us, i) => (requests?.[i] ? show(us, i) : `${(us / 1000).toFixed(0)} ms`)).join(' | ')} |`);
  const [a, b] = runs;
  if (top > 0 && a && b) {
    const per = (us: number, i: number): number => (requests?.[i] ? us / requests[i] : us / (busy[i] || 1));
    const names = [...new Set([...a.functions.keys(), ...b.functions.keys()])];
    const diff = (name: string): number => per(a.functions.get(name) ?? 0, 0) - per(b.functions.get(name) ?? 0, 1);
    lines.push('', `| function (first minus second) | ${basename(a.file)} | ${basename(b.file)} | difference |`, '| --- | ---: | ---: | ---: |');
    for (const name of names.sort((x, y) => diff(y) - diff(x)).slice(0, top)) {
      lines.push(`| ${name} | ${show(a.functions.get(name) ?? 0, 0)} | ${show(b.functions.get(name) ?? 0, 1)} | ${requests ? diff(name).toFixed(1) : `${(diff(name) * 100).toFixed(1)} pt`} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main(process.argv.slice(2));
