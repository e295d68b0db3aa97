import type { Type } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './args.js';

const DEFAULT_CANDIDATES = ['dist/app.module.js', 'src/app.module.ts'];
const TS_LOADERS = ['@swc-node/register/esm-register', 'tsx/esm'];

export interface LoadedModule {
  module: Type<unknown>;
  /** `file#Export`, for messages. */
  source: string;
}

/**
 * Finds the app's Nest module: `--module file[#Export]`, else MIKRO_TENANCY_MODULE, else package.json
 * `"mikro-tenancy": { "module": ... }`, else dist/app.module.js or src/app.module.ts. The export defaults to
 * `AppModule`, then the default export.
 */
export async function loadAppModule(spec: string | undefined, cwd: string): Promise<LoadedModule> {
  const chosen = spec ?? process.env.MIKRO_TENANCY_MODULE ?? packageJsonModule(cwd) ?? DEFAULT_CANDIDATES.find((file) => existsSync(resolve(cwd, file)));
  if (!chosen) {
    throw new UsageError(
      `Cannot find your app's Nest module: none of ${DEFAULT_CANDIDATES.join(', ')} exists in ${cwd}. ` +
        `Pass --module <file>#<ExportName> (e.g. --module src/app.module.ts#AppModule), set MIKRO_TENANCY_MODULE, ` +
        `or add "mikro-tenancy": { "module": "..." } to package.json.`,
    );
  }
  const [file, exportName] = chosen.split('#') as [string, string | undefined];
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`The module file ${path} does not exist (from '${chosen}').`);
  if (/\.[mc]?tsx?$/.test(path)) await registerTypeScriptLoader(path);
  const exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const name = exportName ?? ('AppModule' in exports ? 'AppModule' : 'default');
  const module = exports[name];
  if (typeof module !== 'function') {
    const found = Object.keys(exports).join(', ') || '(none)';
    throw new UsageError(`${path} has no export '${name}' that is a Nest module (its exports: ${found}). Name it: --module ${file}#<ExportName>.`);
  }
  return { module: module as LoadedModule['module'], source: `${file}#${name}` };
}

function packageJsonModule(cwd: string): string | undefined {
  const file = resolve(cwd, 'package.json');
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { 'mikro-tenancy'?: { module?: string } };
  return pkg['mikro-tenancy']?.module;
}

/** Nest modules use decorators, which Node's own type stripping does not handle: a real TS loader is needed. */
async function registerTypeScriptLoader(path: string): Promise<void> {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (TS_LOADERS.some((loader) => flags.includes(loader.split('/')[0] as string))) return; // started with one already
  const failures: string[] = [];
  for (const loader of TS_LOADERS) {
    try {
      await import(loader);
      return;
    } catch (error) {
      failures.push(`${loader}: ${(error as Error).message}`);
    }
  }
  throw new UsageError(
    `Cannot load the TypeScript module ${path}: no TypeScript loader is installed (${failures.join('; ')}). ` +
      `Install one (npm i -D @swc-node/register), or point --module at compiled JavaScript (e.g. dist/app.module.js).`,
  );
}
