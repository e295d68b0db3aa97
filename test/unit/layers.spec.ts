import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * src/ is layered: a folder imports only from folders on a lower floor (or from itself), so the import graph has
 * no circle and the per-request path reads top-down (docs/request-path.md). A new folder must be placed here.
 */
const FLOORS: string[][] = [
  ['index.ts'],
  ['module', 'cli', 'testing'],
  ['http', 'lifecycle', 'health', 'integrations'],
  ['outbox', 'consistency'],
  ['runtime'],
  ['observability'],
  ['fleet'],
  ['isolation'],
  ['options', 'scope'],
  ['tenants', 'replicas'],
  ['resolution', 'errors', 'loading'],
];

const src = resolve(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The top folder of a file under src/ (`isolation` for src/isolation/schema/x.ts), or `index.ts`. */
const folderOf = (file: string): string => relative(src, file).split('/')[0] as string;
const floorOf = (folder: string): number => FLOORS.findIndex((floor) => floor.includes(folder));

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
}

describe('src/ layers', () => {
  const files = sourceFiles(src);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('places every folder on a floor', () => {
    expect([...new Set(files.map(folderOf))].filter((folder) => floorOf(folder) < 0)).toEqual([]);
  });

  it('imports only from the same folder or a lower floor', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const [from, to] = [folderOf(file), folderOf(target)];
        if (from !== to && floorOf(to) <= floorOf(from)) upward.push(`${relative(src, file)} -> ${relative(src, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import circle between files', () => {
    const circles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        circles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(src, f)).join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });
});
