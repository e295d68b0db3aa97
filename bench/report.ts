import type { BenchResults } from './results.js';

export function renderMarkdown(results: BenchResults): string {
  return `# Benchmarks\n\n\`\`\`json\n${JSON.stringify(results.measurements, null, 1)}\n\`\`\`\n`;
}
