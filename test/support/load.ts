/** Runs `count` async jobs with at most `concurrency` in flight; bounded and deterministic in size. */
export async function runConcurrently<T>(count: number, concurrency: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await job(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** Ids no tenant may ever have: each must be answered 400, touching nothing. */
export const HOSTILE_IDS = [
  "acme'",
  'acme"',
  'ac.me',
  '..',
  '../acme',
  'pg_catalog',
  'pg_toast',
  'public',
  'information_schema',
  'ACME',
  'acmé',
  'аcme', // Cyrillic 'а'
  'a'.repeat(64),
  'x;drop schema public cascade',
  "1' or '1'='1",
  'acme/*',
  'tenant acme',
  '%00acme',
];
