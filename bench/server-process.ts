import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Scenario, ServerSpec } from './scenarios.js';
import type { FromServer, UsageSample } from './servers/protocol.js';

const SERVER_ENTRY = fileURLToPath(new URL('./servers/main.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

/** A scenario's server, in its own process (so its CPU, RSS and heap are its own). */
export class ServerProcess {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(spec: ServerSpec, extraExecArgv: string[] = [], extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
    const child = fork(SERVER_ENTRY, [], {
      execArgv: ['--import', '@swc-node/register/esm-register', ...extraExecArgv],
      env: { ...process.env, ...extraEnv, BENCH_SERVER: JSON.stringify(spec), NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${spec.kind} not ready within ${READY_TIMEOUT_MS} ms\n${stderr}`)), READY_TIMEOUT_MS);
      child.on('message', (message: FromServer) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.port);
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`server ${spec.kind} failed to start: ${message.error}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server ${spec.kind} exited with ${code} before it was ready\n${stderr}`));
      });
    }).catch(async (error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const server = new ServerProcess(child, port);
    child.stderr?.on('data', (chunk: Buffer) => (server.stderr = (server.stderr + chunk.toString()).slice(-4000)));
    return server;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get recentStderr(): string {
    return this.stderr;
  }

  usage(): Promise<UsageSample> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not answer a usage probe')), 10_000);
      const onMessage = (message: FromServer): void => {
        if (message.type !== 'usage') return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message.usage);
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'usage' });
    });
  }

  /** Asks for a clean close; kills it if it has not exited within 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Children still running: killed when the orchestrator exits or is interrupted. */
const live = new Set<ChildProcess>();

export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** BENCH_CPU_PROF=<scenario id prefix>[,<prefix>...]: those scenarios' servers write V8 CPU profiles to bench/.profiles. */
export function cpuProfileArgs(scenario: Pick<Scenario, 'id'>): string[] {
  const wanted = (process.env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean);
  if (!wanted.some((prefix) => scenario.id.startsWith(prefix))) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${new URL('./.profiles/', import.meta.url).pathname}`];
}
