/**
 * Every subpath entry of the packed package, in fresh apps (issue 16), installed from the npm registry as a user would:
 *
 * - without any optional peer (BullMQ, microservices, GraphQL, WebSockets, terminus, OpenTelemetry, prom-client): the
 *   install has no peer warning, none of them is installed, the main entry and `/testing` load and an app with the
 *   tenancy module (and TenantSqlTagsModule) boots on a real database; an entry whose peer is missing fails to import
 *   naming that peer, so nothing else ever loads it;
 * - with the peers installed: every entry of package.json "exports" imports and has the exports its docs name.
 *
 * Peer versions are the ones this repository tests with (npm's cache makes the install fast).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestDatabases, databaseUrl } from '../support/test-databases.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const MINUTE = 60_000;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
/** The version this repository tests with. */
const pinned = (name: string): string => `${name}@${(JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`;

const BASE = ['@mikro-orm/core', '@mikro-orm/postgresql', '@mikro-orm/migrations', '@mikro-orm/nestjs', '@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'];
const OPTIONAL = Object.keys(manifest.peerDependenciesMeta).filter((name) => manifest.peerDependenciesMeta[name]?.optional && !BASE.includes(name));
/** What each entry needs beyond the base install (GraphQL also needs graphql itself). */
const EXTRA = [...OPTIONAL, 'graphql'];
/** Exports each entry must have (its docs use them). */
const EXPECTED: Record<string, string[]> = {
  '.': ['MikroTenancyModule', 'TenancyService', 'TenantLifecycle', 'TenantSqlTagsModule', 'tenantLogMixin', 'tenantSqlTag', 'TenantAwareLogger'],
  './health': ['TenancyHealthIndicator'],
  './bullmq': ['TenantQueue', 'TenantProcessor', 'runJobInTenant'],
  './microservices': ['TenantClientProxy', 'TenantRpcInterceptor'],
  './graphql': ['TenantGraphqlInterceptor'],
  './websockets': ['TenantWsInterceptor', 'TenantWsHandshake'],
  './opentelemetry': ['TenancyTracingModule', 'TENANT_ID_ATTRIBUTE'],
  './prometheus': ['TenancyMetricsModule', 'registerTenancyMetrics'],
  './testing': ['TenancyTesting', 'TenantIsolationViolation', 'TemplateNotCloneableError', 'SharedTablesNotCopiedError'],
};
const entries = Object.keys(manifest.exports).filter((entry) => entry !== './package.json');
const specifier = (entry: string) => (entry === '.' ? 'nestjs-mikro-tenancy' : `nestjs-mikro-tenancy/${entry.slice(2)}`);

interface Run { command: string; code: number | null; stdout: string; stderr: string }

/** A user's shell: none of npm's or Jest's variables of the process running this test. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|jest_|test_)/i.test(key) || ['NODE_OPTIONS', 'INIT_CWD', 'NODE_ENV', 'DATABASE_URL'].includes(key)) continue;
    env[key] = value;
  }
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  return { ...env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
}

function shell(command: string, cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd, env, timeout: 5 * MINUTE, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ command, code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function expectSuccess(run: Run): void {
  if (run.code !== 0) throw new Error(`\`${run.command}\` exited with ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

/** Imports each entry in a child process; `{ entry: exported names }`, or `{ entry: 'error: <code> <message>' }`. */
const IMPORT_ALL = `
const out = {};
for (const entry of JSON.parse(process.argv[2])) {
  try { out[entry] = Object.keys(await import(entry)).sort(); }
  catch (error) { out[entry] = 'error: ' + error.code + ' ' + error.message.split('\\n')[0]; }
}
process.stdout.write(JSON.stringify(out));
`;

/** An app with the tenancy module and the SQL tags, booted on a real database, then closed. */
const BOOT = `
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EntitySchema } from '@mikro-orm/core';
import { defineConfig } from '@mikro-orm/postgresql';
import { MikroTenancyModule, TenantSqlTagsModule, TenantStores, TenancyService } from 'nestjs-mikro-tenancy';
import { TenancyTesting } from 'nestjs-mikro-tenancy/testing';

const Probe = new EntitySchema({ name: 'Probe', properties: { id: { type: 'number', primary: true } } });
const config = defineConfig({ clientUrl: process.env.DATABASE_URL, entities: [Probe] });
class AppModule {}
Module({
  imports: [
    MikroTenancyModule.forRoot({ contexts: { default: config }, tenancy: { isolation: 'schema', config, store: TenantStores.static([{ id: 'acme' }]) } }),
    TenantSqlTagsModule,
  ],
})(AppModule);
const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error'] });
const tenancy = app.get(TenancyService);
process.stdout.write(JSON.stringify({ booted: true, tenant: tenancy.currentOrUndefined() ?? null, testing: typeof TenancyTesting.create }));
await app.close();
`;

const workDir = mkdtempSync(join(tmpdir(), 'nmt-subpaths-'));
const appDir = join(workDir, 'app');
const databases = new TestDatabases();
let tarball = '';
let installed = false;

afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  await databases.dropAll();
}, MINUTE);

describe('subpath entries of the packed package', () => {
  it('builds and packs the library, with every entry', async () => {
    expectSuccess(await shell('npm run build', repoRoot));
    const pack = await shell(`npm pack --ignore-scripts --json --pack-destination ${JSON.stringify(workDir)}`, repoRoot);
    expectSuccess(pack);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed?.files.map((f) => f.path) ?? [];
    const entryFiles = entries.map((entry) => (manifest.exports[entry] as { import: string }).import.replace(/^\.\//, ''));
    expect(entryFiles.filter((file) => !files.includes(file))).toEqual([]);
    tarball = join(workDir, packed?.filename ?? 'missing.tgz');
  }, 3 * MINUTE);

  it('installs and boots without any optional peer; entries whose peer is missing fail naming it', async () => {
    expect(tarball).not.toBe('');
    mkdirSync(appDir);
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
    const install = await shell(`npm install ${JSON.stringify(tarball)} ${BASE.map(pinned).join(' ')}`, appDir);
    expectSuccess(install);
    expect(install.stderr.split('\n').filter((line) => /ERESOLVE|peer/i.test(line))).toEqual([]);
    const present = (await shell(`ls -d ${OPTIONAL.map((name) => `node_modules/${name}`).join(' ')} 2>/dev/null; true`, appDir)).stdout.trim();
    expect({ optionalPeersInstalled: present }).toEqual({ optionalPeersInstalled: '' });
    installed = true;

    writeFileSync(join(appDir, 'imports.mjs'), IMPORT_ALL);
    const imported = await shell(`node imports.mjs '${JSON.stringify(entries.map(specifier))}'`, appDir);
    expectSuccess(imported);
    const result = JSON.parse(imported.stdout) as Record<string, string[] | string>;
    expect(result['nestjs-mikro-tenancy']).toEqual(expect.arrayContaining(EXPECTED['.'] as string[]));
    expect(result['nestjs-mikro-tenancy/testing']).toEqual(expect.arrayContaining(EXPECTED['./testing'] as string[]));
    expect(result['nestjs-mikro-tenancy/opentelemetry']).toMatch(/^error: ERR_MODULE_NOT_FOUND .*'@opentelemetry\/api'/);
    expect(result['nestjs-mikro-tenancy/prometheus']).toMatch(/^error: ERR_MODULE_NOT_FOUND .*'prom-client'/);
    expect(result['nestjs-mikro-tenancy/bullmq']).toMatch(/^error: ERR_MODULE_NOT_FOUND .*'(@nestjs\/bullmq|bullmq)'/);
    expect(result['nestjs-mikro-tenancy/graphql']).toMatch(/^error: ERR_MODULE_NOT_FOUND .*'@nestjs\/graphql'/);

    const db = await databases.create('subpaths');
    writeFileSync(join(appDir, 'boot.mjs'), BOOT);
    const boot = await shell('node boot.mjs', appDir, { ...userEnv(), DATABASE_URL: databaseUrl(db) });
    expectSuccess(boot);
    expect({ stdout: JSON.parse(boot.stdout) as unknown, stderr: boot.stderr }).toEqual({ stdout: { booted: true, tenant: null, testing: 'function' }, stderr: '' });
  }, 5 * MINUTE);

  it('imports every entry once its peers are installed', async () => {
    expect(installed).toBe(true);
    const install = await shell(`npm install ${EXTRA.map(pinned).join(' ')}`, appDir);
    expectSuccess(install);
    const imported = await shell(`node imports.mjs '${JSON.stringify(entries.map(specifier))}'`, appDir);
    expectSuccess(imported);
    const result = JSON.parse(imported.stdout) as Record<string, string[] | string>;
    expect(Object.keys(EXPECTED).sort()).toEqual([...entries].sort()); // a new entry is listed here with its exports
    for (const entry of entries) {
      expect({ entry, exports: result[specifier(entry)] }).toEqual({ entry, exports: expect.arrayContaining(EXPECTED[entry] as string[]) });
    }
  }, 5 * MINUTE);
});
