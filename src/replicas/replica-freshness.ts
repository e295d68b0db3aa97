/**
 * How far behind the primary a replica may be, worked out without comparing the servers' clocks and without false
 * alarms on an idle primary (where `now() - pg_last_xact_replay_timestamp()` grows although nothing is missing):
 *
 * every check first samples the primary's WAL position (`pg_current_wal_lsn()`) at a local time, then asks the replica
 * how far it has replayed (`pg_last_wal_replay_lsn()`). A replica that has replayed past a sample has every commit the
 * primary had made when that sample was taken. So the newest such sample's time is the replica's "fresh as of" time,
 * and `now - freshAsOf` bounds how stale a read from it can be. A replica is used only while that bound is within
 * `replicaLag.maxMs`, so it drops out by itself when checks stop succeeding (replica or primary unreachable).
 */
export interface PrimarySample {
  /** The primary's WAL insert position, in bytes. */
  readonly lsn: bigint;
  /** Local time of the sample (performance.now()). */
  readonly at: number;
}

/** A PostgreSQL WAL position (`pg_lsn` as text, e.g. `16/B374D848`) as a number of bytes. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  if (!match) throw new Error(`not a PostgreSQL WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** The newest sample the replica has replayed past: its time, or undefined when it is behind every sample kept. */
export function freshAsOf(samples: readonly PrimarySample[], replayed: bigint): number | undefined {
  for (let i = samples.length - 1; i >= 0; i--) {
    const sample = samples[i] as PrimarySample;
    if (sample.lsn <= replayed) return sample.at;
  }
  return undefined;
}

/**
 * The primary samples worth keeping: those from the last `keepMs` (older ones can only tell that a replica is further
 * behind than the bound, which "behind every sample" already says), and always the newest.
 */
export function recentSamples(samples: readonly PrimarySample[], now: number, keepMs: number): PrimarySample[] {
  const kept = samples.filter((sample) => now - sample.at <= keepMs);
  const newest = samples.at(-1);
  return kept.length === 0 && newest ? [newest] : kept;
}
