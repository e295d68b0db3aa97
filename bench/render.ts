/** Re-renders results/latest.md from results/latest.json (after editing the report's notes, without re-running). */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderMarkdown } from './report.js';
import type { BenchResults } from './results.js';

const dir = new URL('./results/', import.meta.url);
const results = JSON.parse(readFileSync(new URL('latest.json', dir), 'utf8')) as BenchResults;
writeFileSync(new URL('latest.md', dir), renderMarkdown(results));
