/**
 * docs/first-app.md, executed as a newcomer would run it, on the package as npm publishes it:
 *
 * - the library is built and packed (`npm pack`) into a temp dir outside the repository;
 * - the numbered sections of the page are its steps, run in order: every ```bash line in a shell (`npm init`,
 *   the documented install line with `nestjs-mikro-tenancy` replaced by the tarball, `npx tsc`,
 *   `npx mikro-tenancy ...`), every ```json / ```ts block written to the file named just above it, `node dist/main.js`
 *   started in the background and each `curl` line sent with fetch, its response compared with the `# ...` line
 *   under it. A ```text block right after a ```bash block is the exact stdout of that block's last command;
 * - `export DATABASE_URL=.../first_app` points at a database of the test server (prefix TEST_RUN_PREFIX) instead,
 *   and `localhost:3000` at a free port. Nothing else of the page is adapted, so a page that drifts from what
 *   works fails here;
 * - then raw SQL checks where the rows landed, and Ctrl-C (SIGINT) must stop the app.
 *
 * The install is a real one from the npm registry (npm's own cache makes repeats fast); nothing is linked from
 * this repository's node_modules. Set KEEP_FIRST_APP=1 to keep the app directory for inspection.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { databaseUrl, sql, uniqueName } from '../support/test-databases.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const PAGE = join(repoRoot, 'docs', 'first-app.md');
const DOC_DB = 'first_app'; // the database name the page uses
const DOC_ADDRESS = 'localhost:3000';
const MINUTE = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// The page, as steps

type Step =
  | { kind: 'file'; path: string; content: string; where: string }
  | { kind: 'command'; command: string; where: string; expectedStdout?: string; responses: string[] };

interface Page {
  steps: Step[];
  /** ```text blocks of the numbered sections that are not a command's output (quoted messages). */
  quotes: string[];
}

function readPage(): Page {
  const lines = readFileSync(PAGE, 'utf8').split('\n');
  const steps: Step[] = [];
  const quotes: string[] = [];
  let section = '';
  let lastBash: Extract<Step, { kind: 'command' }> | undefined; // last command of a bash block ending just above
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('## ')) section = line.slice(3);
    const fence = /^```(\w+)$/.exec(line);
    if (!fence) {
      if (line.trim() !== '') lastBash = undefined;
      continue;
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    const body = lines.slice(start, end);
    const where = `docs/first-app.md:${start} (${section})`;
    const lang = fence[1] as string;
    i = end;
    if (!/^\d+\. /.test(section)) continue; // only the numbered sections are the walkthrough

    if (lang === 'bash') {
      const commands = bashCommands(body, where);
      steps.push(...commands);
      lastBash = commands.at(-1);
    } else if (lang === 'text') {
      if (lastBash) lastBash.expectedStdout = body.join('\n');
      else quotes.push(body.join('\n'));
      lastBash = undefined;
    } else {
      // a file: its name is the **`path`** that starts the paragraph above the block
      let p = start - 2;
      while (p >= 0 && (lines[p] as string).trim() === '') p--;
      while (p > 0 && (lines[p - 1] as string).trim() !== '') p--;
      const path = /^\*\*`([^`]+)`\*\*/.exec(lines[p] as string)?.[1];
      if (!path) throw new Error(`${where}: a \`\`\`${lang} block without a **\`file\`** name in the paragraph above it`);
      steps.push({ kind: 'file', path, content: `${body.join('\n')}\n`, where });
      lastBash = undefined;
    }
  }
  return { steps, quotes };
}

/** Commands of a bash block: `\`-continued lines joined; `# ...` lines under a curl are its expected responses. */
function bashCommands(body: string[], where: string): Extract<Step, { kind: 'command' }>[] {
  const commands: Extract<Step, { kind: 'command' }>[] = [];
  let pending = '';
  for (const raw of body) {
    const line = pending + raw;
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1).trimEnd()} `;
      continue;
    }
    pending = '';
    const text = line.trim();
    if (text === '') continue;
    if (text.startsWith('#')) {
      commands.at(-1)?.responses.push(text.replace(/^#\s?/, ''));
      continue;
    }
    commands.push({ kind: 'command', command: text, where, responses: [] });
  }
  return commands;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface Run {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: none of npm's or Jest's variables from the process running this test. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|jest_|test_)/i.test(key) || ['NODE_OPTIONS', 'INIT_CWD', 'NODE_ENV', 'DATABASE_URL', 'MIKRO_TENANCY_MODULE', 'PORT'].includes(key)) continue;
    env[key] = value;
  }
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`; // the node running the tests, and its npm/npx
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  env.npm_config_update_notifier = 'false';
  return env;
}

function shell(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 5 * MINUTE): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ command, code, stdout, stderr });
    });
  });
}

/** Fails with the command's whole output when it did not exit 0. */
function expectSuccess(run: Run, where: string): void {
  if (run.code !== 0) throw new Error(`${where}: \`${run.command}\` exited with ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, cwd: string, env: NodeJS.ProcessEnv) {
    const [file, ...args] = command.split(/\s+/) as [string, ...string[]];
    this.child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForOutput(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(text)) {
      if (!this.running) throw new Error(`the app exited before printing '${text}'\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`the app did not print '${text}' within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A `curl` line of the page, sent with fetch: `-X`, `-H`, `-d` and the URL. */
async function curl(command: string, port: number): Promise<{ status: number; text: string }> {
  const tokens = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => (m[1] ?? m[2]) as string).slice(1);
  let method: string | undefined;
  let body: string | undefined;
  let url: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === '-X') method = tokens[++i];
    else if (token === '-H') {
      const [name, ...value] = (tokens[++i] as string).split(':');
      headers[(name as string).trim()] = value.join(':').trim();
    } else if (token === '-d') body = tokens[++i];
    else if (token.startsWith('-')) throw new Error(`curl option ${token} is not understood by this test: ${command}`);
    else url = token;
  }
  if (!url?.startsWith(`${DOC_ADDRESS}/`)) throw new Error(`curl to an unexpected address: ${command}`);
  const response = await fetch(`http://127.0.0.1:${port}${url.slice(DOC_ADDRESS.length)}`, { method: method ?? (body ? 'POST' : 'GET'), headers, body });
  return { status: response.status, text: await response.text() };
}

// ---------------------------------------------------------------------------------------------------------------

const page = readPage();
const workDir = mkdtempSync(join(tmpdir(), 'nmt-first-app-'));
const dbName = uniqueName('first_app');
const env = userEnv();
let tarball = '';
let appDir = '';
let app: Background | undefined;
let port = 0;
let walkthroughCompleted = false;

/** Output as the page shows it: its database name, a fixed migration timestamp, any duration. */
const normalize = (text: string): string =>
  text
    .replaceAll(dbName, DOC_DB)
    .replace(/Migration\d{14}/g, 'Migration<timestamp>')
    .replace(/\b\d+ ms\b/g, '<n> ms')
    .trim();

afterAll(async () => {
  if (app?.running) {
    app.child.kill('SIGKILL');
    await app.exited;
  }
  await sql('postgres', `drop database if exists "${dbName}" with (force)`);
  if (process.env.KEEP_FIRST_APP) process.stderr.write(`first app kept in ${workDir}\n`);
  else rmSync(workDir, { recursive: true, force: true });
}, MINUTE);

describe('docs/first-app.md, run on the packed package in a fresh app', () => {
  it('has the steps this test knows how to run', () => {
    const commands = page.steps.flatMap((s) => (s.kind === 'command' ? [s.command] : []));
    const files = page.steps.flatMap((s) => (s.kind === 'file' ? [s.path] : []));
    expect(files).toEqual(['tsconfig.json', 'src/entities.ts', 'src/app.module.ts', 'src/projects.controller.ts', 'src/main.ts']);
    expect(commands[0]).toMatch(/^mkdir (\S+) && cd \1$/);
    expect(commands.filter((c) => c.startsWith('npm install nestjs-mikro-tenancy '))).toHaveLength(1);
    expect(commands.filter((c) => c.startsWith('export DATABASE_URL='))).toEqual([`export DATABASE_URL=postgresql://postgres:postgres@localhost:5432/${DOC_DB}`]);
    expect(commands.filter((c) => c.startsWith('npx mikro-tenancy '))).toEqual([
      'npx mikro-tenancy db create',
      'npx mikro-tenancy migrate create --context default',
      'npx mikro-tenancy migrate create --context tenant',
      'npx mikro-tenancy migrate up',
      'npx mikro-tenancy tenant create acme',
      'npx mikro-tenancy tenant create globex',
    ]);
    expect(commands.filter((c) => c === 'node dist/main.js')).toHaveLength(1);
    expect(commands.filter((c) => c.startsWith('curl '))).toHaveLength(6);
    // the outputs the page shows: db create, migrate up, the last tenant create
    expect(page.steps.flatMap((s) => (s.kind === 'command' && s.expectedStdout !== undefined ? [s.command] : []))).toEqual([
      'npx mikro-tenancy db create',
      'npx mikro-tenancy migrate up',
      'npx mikro-tenancy tenant create globex',
    ]);
    expect(page.quotes).toEqual([expect.stringContaining(`The database "${DOC_DB}" of context 'default' does not exist.`)]);
    // every ts file of the page is the whole of its examples/ twin (type-checked against src/ by npm run typecheck)
    for (const step of page.steps) {
      if (step.kind !== 'file' || !step.path.endsWith('.ts')) continue;
      const twin = join(repoRoot, 'examples', 'first-app-walkthrough', step.path.replace(/^src\//, ''));
      expect({ file: step.path, content: step.content }).toEqual({ file: step.path, content: readFileSync(twin, 'utf8') });
    }
  });

  it('builds and packs the library', async () => {
    // `npm pack` would build too (prepack); built first so that a compile error shows as such
    expectSuccess(await shell('npm run build', repoRoot, env), 'the library');
    const pack = await shell(`npm pack --ignore-scripts --json --pack-destination ${JSON.stringify(workDir)}`, repoRoot, env);
    expectSuccess(pack, 'the library');
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/cli/bin.js', 'dist/index.d.ts', 'src/index.ts', 'package.json', 'README.md']));
    expect(files.filter((f) => /^(test|examples|docs|sample-app|bench)\//.test(f))).toEqual([]);
    tarball = join(workDir, packed?.filename ?? 'missing.tgz');
    expect(existsSync(tarball)).toBe(true);
  }, 3 * MINUTE);

  it('follows every step of the page: install, build, CLI, two tenants over HTTP', async () => {
    expect(tarball).not.toBe('');
    let cwd = workDir;
    let missingDatabaseChecked = false;
    const cliTimes: string[] = [];
    for (const step of page.steps) {
      if (step.kind === 'file') {
        mkdirSync(dirname(join(cwd, step.path)), { recursive: true });
        writeFileSync(join(cwd, step.path), step.content);
        continue;
      }
      const { command } = step;
      const mkdir = /^mkdir (\S+) && cd \1$/.exec(command);
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (mkdir) {
        cwd = join(workDir, mkdir[1] as string);
        mkdirSync(cwd);
        appDir = cwd;
      } else if (exported) {
        expect(exported[1]).toBe('DATABASE_URL');
        env.DATABASE_URL = databaseUrl(dbName); // the page's .../first_app, on the test server
      } else if (command === 'node dist/main.js') {
        port = await freePort();
        app = new Background(command, cwd, { ...env, PORT: String(port) });
        await app.waitForOutput('Nest application successfully started', MINUTE);
      } else if (command.startsWith('curl ')) {
        expect(app?.running).toBe(true);
        const response = await curl(command, port);
        expect(step.responses).toHaveLength(1);
        const expected = step.responses[0] as string;
        const expectedStatus = (JSON.parse(expected) as { statusCode?: number }).statusCode ?? (command.includes(' -d ') ? 201 : 200);
        expect({ command, status: response.status, body: response.text }).toEqual({ command, status: expectedStatus, body: expected });
      } else {
        if (command === 'npx mikro-tenancy db create' && !missingDatabaseChecked) {
          // the page quotes what any other command says before the database exists
          missingDatabaseChecked = true;
          const quote = page.quotes.find((q) => q.includes('does not exist'));
          expect(quote).toBeDefined();
          const before = await shell('npx mikro-tenancy migrate up', cwd, env);
          expect({ code: before.code, stdout: before.stdout, stderr: normalize(before.stderr) }).toEqual({ code: 1, stdout: '', stderr: quote });
        }
        const started = Date.now();
        const install = command.startsWith('npm install nestjs-mikro-tenancy ');
        const run = await shell(install ? command.replace('nestjs-mikro-tenancy', JSON.stringify(tarball)) : command, cwd, env);
        if (command.startsWith('npx mikro-tenancy ')) cliTimes.push(`${command.slice(4)}: ${Date.now() - started} ms`);
        expectSuccess(run, step.where);
        if (command.startsWith('npx mikro-tenancy ')) expect({ command, stderr: run.stderr }).toEqual({ command, stderr: '' });
        if (command === 'npx tsc') expect({ command, stdout: run.stdout }).toEqual({ command, stdout: '' });
        if (command.startsWith('npm install')) expect({ command, warnings: run.stderr.split('\n').filter((l) => /ERESOLVE|peer/i.test(l)) }).toEqual({ command, warnings: [] });
        if (step.expectedStdout !== undefined) {
          expect({ command, stdout: normalize(run.stdout) }).toEqual({ command, stdout: normalize(step.expectedStdout) });
        }
      }
    }
    process.stderr.write(`first-app CLI steps: ${cliTimes.join('; ')}\n`);
    expect(missingDatabaseChecked).toBe(true);
    expect(app?.running).toBe(true);

    // what the install line installed: the packed library, and exactly the pinned MikroORM versions
    const installed = (name: string) => (JSON.parse(readFileSync(join(appDir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    expect(['core', 'postgresql', 'migrations', 'decorators', 'sql'].map((p) => installed(`@mikro-orm/${p}`))).toEqual(Array(5).fill('7.2.1'));
    expect(installed('nestjs-mikro-tenancy')).toBe((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    walkthroughCompleted = true;
  }, 8 * MINUTE);

  it("keeps each tenant's rows in its own schema, and nothing of theirs in public", async () => {
    expect({ walkthroughCompleted }).toEqual({ walkthroughCompleted: true });
    const tables = await sql<{ schema: string; table: string }>(
      dbName,
      "select table_schema as schema, table_name as table from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2",
    );
    expect(tables).toEqual([
      { schema: 'public', table: 'mikro_orm_migrations' },
      { schema: 'public', table: 'tenant' },
      { schema: 'tenant_acme', table: 'mikro_orm_migrations' },
      { schema: 'tenant_acme', table: 'project' },
      { schema: 'tenant_acme', table: 'task' },
      { schema: 'tenant_globex', table: 'mikro_orm_migrations' },
      { schema: 'tenant_globex', table: 'project' },
      { schema: 'tenant_globex', table: 'task' },
    ]);
    expect(await sql(dbName, 'select id, suspended from public.tenant order by id')).toEqual([
      { id: 'acme', suspended: false },
      { id: 'globex', suspended: false },
    ]);
    expect(await sql(dbName, 'select id, name from tenant_acme.project order by id')).toEqual([{ id: 1, name: 'Launch' }]);
    expect(await sql(dbName, 'select id, title, project_id from tenant_acme.task order by id')).toEqual([
      { id: 1, title: 'Write the docs', project_id: 1 },
      { id: 2, title: 'Ship it', project_id: 1 },
    ]);
    expect(await sql(dbName, 'select id, name from tenant_globex.project order by id')).toEqual([{ id: 1, name: 'Research' }]);
    expect(await sql(dbName, 'select id from tenant_globex.task')).toEqual([]);
    // each schema is marked as its tenant's
    expect(await sql(dbName, "select nspname, obj_description(oid, 'pg_namespace') as mark from pg_namespace where nspname like 'tenant\\_%' order by 1")).toEqual([
      { nspname: 'tenant_acme', mark: 'nestjs-mikro-tenancy:tenant=acme' },
      { nspname: 'tenant_globex', mark: 'nestjs-mikro-tenancy:tenant=globex' },
    ]);
  });

  it('stops on Ctrl-C (SIGINT) within seconds, having logged no error', async () => {
    expect({ walkthroughCompleted }).toEqual({ walkthroughCompleted: true });
    expect(app?.running).toBe(true);
    const started = Date.now();
    app?.child.kill('SIGINT');
    const exit = await app?.exited;
    const tookMs = Date.now() - started;
    process.stderr.write(`first-app shutdown on SIGINT: ${tookMs} ms\n`);
    // Nest's shutdown hooks close the app, then re-raise the signal
    expect(exit).toEqual({ code: null, signal: 'SIGINT' });
    expect(tookMs).toBeLessThan(10_000);
    expect(app?.stderr).toBe('');
    expect(await sql('postgres', "select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()", [dbName])).toEqual([{ n: 0 }]);
  }, MINUTE);
});
