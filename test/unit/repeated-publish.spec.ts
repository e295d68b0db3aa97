import { RepeatedPublish } from '../../src/lifecycle/repeated-publish.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RepeatedPublish (a move renewing its fleet-wide hold)', () => {
  it('publishes every period between start and stop, and never after stop returned', async () => {
    const published: number[] = [];
    let release: (() => void) | undefined;
    const warnings: string[] = [];
    const repeated = new RepeatedPublish(
      async () => {
        published.push(Date.now());
        if (published.length === 3) await new Promise<void>((resolve) => (release = resolve)); // a slow publish
      },
      20,
      { warn: (message: string) => void warnings.push(message) },
    );
    repeated.start();
    repeated.start(); // idempotent: one timer
    while (published.length < 3) await sleep(5);
    let stopped = false;
    const stopping = repeated.stop().then(() => (stopped = true));
    await sleep(60);
    expect(stopped).toBe(false); // waits for the publish under way
    release?.();
    await stopping;
    const count = published.length;
    await sleep(80);
    expect(published.length).toBe(count);
    expect(count).toBe(3);
    expect(warnings).toEqual([]);
  });

  it('logs a failed publish and tries again at the next period', async () => {
    let calls = 0;
    const warnings: string[] = [];
    const repeated = new RepeatedPublish(
      async () => {
        calls++;
        if (calls === 1) throw new Error('hub unreachable');
      },
      15,
      { warn: (message: string) => void warnings.push(message) },
    );
    repeated.start();
    while (calls < 2) await sleep(5);
    await repeated.stop();
    expect(warnings).toEqual(['Renewing a tenant change failed: hub unreachable']);
  });
});
