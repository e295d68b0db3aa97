// Starts (or finds) the PostgreSQL every suite of this run uses; Jest workers inherit TEST_DATABASE_URL.
// Plain ESM importing the .ts helper directly (Node's type stripping): Jest transforms global setup as CommonJS.
import { randomBytes } from 'node:crypto';
import { usePostgres } from '../../scripts/embedded-postgres.ts';

export default async function globalSetup() {
  const server = await usePostgres();
  globalThis.__TEST_POSTGRES__ = server;
  process.env.TEST_DATABASE_URL = server.url;
  // every database this run creates starts with this prefix, so a shared server is never clobbered
  process.env.TEST_RUN_PREFIX = `nmt_${randomBytes(3).toString('hex')}`;
}
