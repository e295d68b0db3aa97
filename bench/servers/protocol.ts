/** IPC between the orchestrator and a scenario's server process (child_process.fork). */

/** The server's own view of its resource use; read before and after the measured window. */
export interface UsageSample {
  /** process.cpuUsage(): user + system µs of every thread of the server process. */
  cpuUs: number;
  /** Resident set size now, and the process' peak so far (resourceUsage().maxRSS), in bytes. */
  rss: number;
  peakRss: number;
}

export type ToServer = { type: 'usage' } | { type: 'stop' };
export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'usage'; usage: UsageSample }
  | { type: 'failed'; error: string };

export function usageNow(): UsageSample {
  const cpu = process.cpuUsage();
  return { cpuUs: cpu.user + cpu.system, rss: process.memoryUsage.rss(), peakRss: process.resourceUsage().maxRSS * 1024 };
}

/** A running server: stop() closes its listener and its pools. */
export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}
