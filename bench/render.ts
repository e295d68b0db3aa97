/**
 * Re-renders a report from its JSON, without re-running (after editing the report's notes):
 * `node --import @swc-node/register/esm-register bench/render.ts [from.json] [to.md]`, by default
 * results/latest.json → results/latest.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';

const dir = new URL('./results/', import.meta.url);
const [from = new URL('latest.json', dir).pathname, to = new URL('latest.md', dir).pathname] = process.argv.slice(2);
const results = JSON.parse(readFileSync(from, 'utf8')) as BenchResults;
writeFileSync(to, renderMarkdown(results));
