/** `up`: serves reads; `lagging`: further behind than maxMs; `down`: unreachable; `refused`: not fit (see replicaRefusal). */
export type ReplicaState = 'unchecked' | 'up' | 'lagging' | 'down' | 'refused';

/** One read replica in a health report. */
export interface ReplicaStatus {
  name: string;
  state: ReplicaState;
  /** Upper bound of how stale a read from it would be now, in ms (absent until a check has compared it). */
  lagMs?: number;
  /** Why it is down or refused. */
  reason?: string;
}
