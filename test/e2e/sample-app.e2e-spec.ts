/**
 * The sample app started exactly as `npm start` starts it (a child process, no DATABASE_URL: it starts its own
 * embedded PostgreSQL), then used over HTTP as its README says.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Sample {
  url: string;
  output: () => string;
  stop: () => Promise<number | null>;
}

/** `npm start` = `node --import @swc-node/register/esm-register sample-app/src/main.ts` (see package.json). */
async function startSample(env: Record<string, string>): Promise<Sample> {
  const { DATABASE_URL: _url, PGHOST: _host, TEST_DATABASE_URL: _test, ...inherited } = process.env;
  const child: ChildProcess = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'sample-app/src/main.ts'], {
    cwd: repoRoot,
    env: { ...inherited, NODE_OPTIONS: '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sample did not start within 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve((match[1] as string).replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the sample exited with ${code} before listening:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: async () => {
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Processes whose command line mentions `text` (the embedded PostgreSQL runs with `-D <dataDir>`). */
function processesMentioning(text: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) count++;
    } catch {
      // the process ended while we looked
    }
  }
  return count;
}

async function call(sample: Sample, path: string, init: { method?: string; tenant?: string; json?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.tenant) headers['x-tenant-id'] = init.tenant;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(sample.url + path, { method: init.method ?? 'GET', headers, body: init.json === undefined ? undefined : JSON.stringify(init.json) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe.each(['schema', 'database', 'table'])('sample app via npm start (%s isolation, embedded PostgreSQL)', (isolation) => {
  const dataDir = join(tmpdir(), `nmt-sample-${isolation}-${Math.random().toString(36).slice(2, 8)}`);
  let sample: Sample;

  beforeAll(async () => {
    sample = await startSample({ SAMPLE_DATA_DIR: dataDir, TENANT_ISOLATION: isolation });
  }, 120_000);

  afterAll(async () => {
    if (sample) {
      expect(processesMentioning(dataDir)).toBeGreaterThan(0); // the embedded PostgreSQL of this run
      expect(await sample.stop()).toBe(0); // Ctrl-C stops the app, then the embedded server
      expect(processesMentioning(dataDir)).toBe(0);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('prints where it listens, with curl examples', () => {
    expect(sample.output()).toContain(`${isolation} isolation). Try:`);
    expect(sample.output()).toContain("curl -X POST");
  });

  it('signs up a tenant, which then has its own projects that no other tenant sees', async () => {
    const signup = await call(sample, '/signup', { method: 'POST', json: { tenantId: 'initech', name: 'Initech', ownerEmail: 'bill@initech.test' } });
    // shared tables are migrated once, when the sample starts: a new tenant has none of its own to apply
    expect(signup).toEqual({ status: 201, body: { tenant: { id: 'initech', name: 'Initech' }, owner: 'bill@initech.test', migrations: isolation === 'table' ? 0 : 1 } });
    expect((await call(sample, '/signup', { method: 'POST', json: { tenantId: 'initech', name: 'Again', ownerEmail: 'x@initech.test' } })).status).toBe(409);

    // the seeder's project, then one of our own
    expect((await call(sample, '/projects', { tenant: 'initech' })).body).toMatchObject([{ name: 'Getting started' }]);
    const created = await call(sample, '/projects', { method: 'POST', tenant: 'initech', json: { name: 'TPS reports' } });
    expect(created).toMatchObject({ status: 201, body: { name: 'TPS reports' } });
    const task = await call(sample, `/projects/${created.body.id}/tasks`, { method: 'POST', tenant: 'initech', json: { title: 'New cover sheet' } });
    expect(task).toMatchObject({ status: 201, body: { title: 'New cover sheet', done: false } });
    expect((await call(sample, `/tasks/${task.body.id}`, { method: 'PATCH', tenant: 'initech', json: { done: true } })).body).toMatchObject({ done: true });

    const names = (tenant: string) => call(sample, '/projects', { tenant }).then((r) => (r.body as { name: string }[]).map((p) => p.name));
    expect(await names('initech')).toEqual(['Getting started', 'TPS reports']);
    expect(await names('acme')).not.toContain('TPS reports');
    expect((await call(sample, `/projects/${created.body.id}/tasks`, { tenant: 'acme' })).status).toBe(404);

    expect((await call(sample, '/members', { tenant: 'initech' })).body).toEqual([{ email: 'bill@initech.test', role: 'owner' }]);
    expect((await call(sample, '/analytics/summary', { tenant: 'initech' })).body).toEqual({
      tenant: 'initech',
      events: { 'project.created': 1, 'task.created': 1, 'tenant.signed_up': 1 },
    });
  });

  it('answers bad input with clear 400s and unknown tenants with 404', async () => {
    const invalid = await call(sample, '/signup', { method: 'POST', json: { tenantId: 'Bad Id', name: '', ownerEmail: 'nope' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toEqual(expect.arrayContaining(['ownerEmail must be an email']));
    expect((await call(sample, '/projects', { method: 'POST', tenant: 'acme', json: { name: 'x', extra: 1 } })).body.message).toEqual(['property extra should not exist']);
    expect(await call(sample, '/projects', { tenant: 'nobody' })).toMatchObject({ status: 404, body: { message: "Unknown tenant 'nobody': no such tenant is registered in the tenant store." } });
    expect(await call(sample, '/projects', { tenant: 'x;drop' })).toMatchObject({ status: 400 });
    expect(await call(sample, '/projects')).toMatchObject({ status: 400 });
  });

  it('reports health per context and for the tenants', async () => {
    const health = await call(sample, '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', info: { hub: { status: 'up' }, analytics: { status: 'up' }, tenant: { status: 'up', isolation } } });
  });
});
