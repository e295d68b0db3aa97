/**
 * A real redis-server for one test file: a free port on 127.0.0.1, a temporary directory, no persistence. Debian's
 * `redis-server` must be installed (`.ci/run` installs it); the error says so when it is missing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  host: string;
  port: number;
  /** Everything redis-server printed: shown when a test fails. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

function started(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server did not get ready within 20 s:\n${output()}`)), 20_000);
    const onData = () => {
      if (output().includes('Ready to accept connections')) done();
    };
    const onExit = (code: number | null) => fail(new Error(`redis-server exited with code ${code} before it was ready:\n${output()}`));
    const onError = (error: NodeJS.ErrnoException) =>
      fail(error.code === 'ENOENT' ? new Error('redis-server is not installed: apt-get install -y redis-server (see .ci/run)') : error);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const done = () => (cleanup(), resolve());
    const fail = (error: Error) => (cleanup(), reject(error));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Starts redis-server; retries on another port if the one picked was taken in between. */
export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'nmt-redis-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let output = '';
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      await started(child, () => output);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      if (error instanceof Error && error.message.includes('not installed')) break;
      continue;
    }
    return {
      host: '127.0.0.1',
      port,
      log: () => output,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
