/** Node child processes running TypeScript from source (like test/support/cli.ts), observable while they run. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class TsProcess {
  readonly child: ChildProcess;
  readonly started = performance.now();
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  readonly #listeners = new Set<() => void>();

  /** Runs `node --import @swc-node/register/esm-register <script> ...args` in the repository root. */
  constructor(script: string, args: string[], env: Record<string, string | undefined>) {
    this.child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.notify();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when `condition()` holds (checked on every output chunk); rejects if the process ends first or on timeout. */
  waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), timeoutMs);
      const check = () => {
        if (condition()) done();
        else if (!this.running) done(new Error(`the process ended (code ${this.child.exitCode}, signal ${this.child.signalCode}) before ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.#listeners.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** The mikro-tenancy CLI from source. */
export function spawnCli(args: string[], env: Record<string, string | undefined>): TsProcess {
  return new TsProcess('src/cli/bin.ts', args, env);
}

/** Polls `probe` every `everyMs` until it returns true; false when `timeoutMs` passes first. */
export async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return false;
}
