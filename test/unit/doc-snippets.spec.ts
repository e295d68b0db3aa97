import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The documentation stays true to the code:
 * - every ```ts block of README.md and docs/*.md appears verbatim in a file under examples/, which
 *   `npm run typecheck` compiles against src/ (tsconfig maps 'nestjs-mikro-tenancy' to it). So a snippet that
 *   stops compiling, or one edited in the docs only, fails here;
 * - every relative link of README.md, docs/*.md, CONTRIBUTING.md and ROADMAP.md points to an existing file, and a
 *   `#fragment` into a markdown file to one of its headings (GitHub's anchors);
 * - .ci/run runs exactly the test commands the README gives.
 */
const root = join(import.meta.dirname, '..', '..');

interface Snippet { file: string; line: number; code: string }
interface Link { file: string; line: number; target: string }

const docsDir = join(root, 'docs');
const docPages = readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort().map((f) => join(docsDir, f));
const snippetFiles = [join(root, 'README.md'), ...docPages];
const linkFiles = [...snippetFiles, join(root, 'CONTRIBUTING.md'), join(root, 'ROADMAP.md')];

const show = (file: string): string => relative(root, file);
const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split('\n');
const isFence = (line: string): boolean => /^\s*```/.test(line);

function snippetsOf(file: string): Snippet[] {
  const lines = linesOf(file);
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    snippets.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return snippets;
}

function exampleFiles(dir = join(root, 'examples')): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) for (const [p, text] of exampleFiles(path)) files.set(p, text);
    else if (entry.endsWith('.ts')) files.set(show(path), readFileSync(path, 'utf8'));
  }
  return files;
}

/** Markdown links outside fenced code and inline code spans. */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  let inFence = false;
  linesOf(file).forEach((line, index) => {
    if (isFence(line)) inFence = !inFence;
    if (inFence) return;
    const text = line.replace(/`+[^`]*?`+/g, ''); // code spans hold no links (link texts in code keep their target)
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push({ file, line: index + 1, target: match[1] as string });
  });
  return links;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of linesOf(file)) {
    if (isFence(line)) inFence = !inFence;
    const heading = inFence ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** What is wrong with a link, or undefined when it resolves. */
function problemOf(link: Link): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined; // https:, mailto: ...
  const [path, fragment] = link.target.split('#') as [string, string | undefined];
  const target = path ? resolve(dirname(link.file), decodeURIComponent(path)) : link.file;
  if (!target.startsWith(root)) return `${link.target} leaves the repository`;
  if (!existsSync(target)) return `${link.target}: no such file (${show(target)})`;
  if (fragment && target.endsWith('.md') && !anchorsOf(target).has(fragment.toLowerCase())) {
    return `${link.target}: ${show(target)} has no heading with the anchor #${fragment}`;
  }
  return undefined;
}

describe('documentation snippets', () => {
  const snippets = snippetFiles.flatMap(snippetsOf);
  const examples = exampleFiles();

  it('has TypeScript snippets to check, in the README and in docs/', () => {
    expect(snippets.filter((s) => s.file.endsWith('/README.md') && !s.file.includes('/docs/')).length).toBeGreaterThanOrEqual(4);
    expect(snippets.length).toBeGreaterThanOrEqual(20);
  });

  it.each(snippets.map((s) => [`${show(s.file)}:${s.line}`, s.code.split('\n')[0], s.code] as const))(
    '%s (%s) is kept in a type-checked examples/ file',
    (_where, _first, code) => {
      const homes = [...examples].filter(([, text]) => text.includes(code)).map(([file]) => file);
      expect(homes.length).toBeGreaterThan(0);
    },
  );
});

describe('documentation links', () => {
  const links = linkFiles.filter(existsSync).flatMap(linksOf);

  it('finds the links', () => {
    expect(links.length).toBeGreaterThanOrEqual(30);
  });

  it('every relative link points to an existing file (and heading)', () => {
    const broken = links.flatMap((link) => {
      const problem = problemOf(link);
      return problem ? [`${show(link.file)}:${link.line}: ${problem}`] : [];
    });
    expect(broken).toEqual([]);
  });
});

describe('README commands', () => {
  it('are the test commands .ci/run runs', () => {
    const ci = linesOf(join(root, '.ci', 'run')).map((l) => l.trim()).filter((l) => /^npm (test|run test:\S+)$/.test(l));
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(ci.length).toBeGreaterThanOrEqual(2);
    for (const command of ci) expect(readme).toMatch(new RegExp(`^${command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm'));
  });
});
