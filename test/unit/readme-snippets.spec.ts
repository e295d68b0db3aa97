import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every ```ts block of the README must appear verbatim in a file of examples/, which `npm run typecheck`
 * compiles against src/ (tsconfig maps 'nestjs-mikro-tenancy' to it). So a README snippet that stops
 * compiling, or one edited in the README only, fails here.
 */
const root = join(import.meta.dirname, '..', '..');

interface Snippet { line: number; code: string }

function readmeSnippets(): Snippet[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    snippets.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return snippets;
}

function exampleFiles(): Map<string, string> {
  const dir = join(root, 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  return new Map(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

describe('README snippets', () => {
  const snippets = readmeSnippets();
  const examples = exampleFiles();

  it('has TypeScript snippets to check', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(15);
  });

  it.each(snippets.map((s) => [s.line, s.code.split('\n')[0], s.code] as const))(
    'README.md:%i (%s) is kept in a type-checked examples/ file',
    (_line, _first, code) => {
      const homes = [...examples].filter(([, text]) => text.includes(code)).map(([file]) => file);
      expect(homes.length).toBeGreaterThan(0);
    },
  );
});
