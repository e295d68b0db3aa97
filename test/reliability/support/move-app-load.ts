/**
 * HTTP clients of the app-level move test: each loops on one instance and one tenant, writing notes (POST, each
 * title unique) or reading the newest ones, until stopped. Recorded: every acknowledged (201) title per tenant,
 * every status per tenant, when each client last got an answer in 2xx, and any row of another tenant.
 */
import type { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { send } from './soak.js';

export interface MoveAppClient {
  /** Base URL of the instance. */
  url: string;
  tenant: string;
  kind: 'write' | 'read';
}

export class MoveAppLoad {
  /** Acknowledged titles per tenant. */
  readonly acked = new Map<string, string[]>();
  /** Answers per tenant, by status ('error' for a transport failure). */
  readonly statuses = new Map<string, Map<string, number>>();
  /** The first non-2xx answers, for the failure message. */
  readonly samples: { tenant: string; kind: string; outcome: unknown }[] = [];
  /** Rows of another tenant seen by a read. */
  readonly foreign: unknown[] = [];
  readonly #okTimes: { client: MoveAppClient; times: number[] }[] = [];
  readonly #loops: Promise<void>[];
  readonly startedAt = performance.now();
  stoppedAt: number | undefined;
  #running = true;

  constructor(clients: MoveAppClient[], private readonly label: string, private readonly agent: Agent) {
    this.#loops = clients.map((client, n) => this.#loop(client, n));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.stoppedAt ??= performance.now();
  }

  statusesOf(tenant: string): Record<string, number> {
    return Object.fromEntries(this.statuses.get(tenant) ?? []);
  }

  /** Answers of the tenant that are neither 2xx nor `allowed`. */
  unexpectedOf(tenant: string, allowed: string[] = []): Record<string, number> {
    return Object.fromEntries([...(this.statuses.get(tenant) ?? [])].filter(([status]) => !status.startsWith('2') && !allowed.includes(status)));
  }

  /** The longest a writer of the tenant (through `url`, or any instance) went without a 2xx answer (ms), from the start to the stop of the load. */
  longestWriteGap(tenant: string, url?: string): number {
    let gap = 0;
    for (const { client, times } of this.#okTimes) {
      if (client.tenant !== tenant || client.kind !== 'write' || (url !== undefined && client.url !== url)) continue;
      let last = this.startedAt;
      for (const t of [...times, this.stoppedAt ?? performance.now()]) {
        gap = Math.max(gap, t - last);
        last = t;
      }
    }
    return Math.round(gap);
  }

  async #loop(client: MoveAppClient, n: number): Promise<void> {
    const times: number[] = [];
    this.#okTimes.push({ client, times });
    const headers = { 'x-tenant-id': client.tenant };
    for (let i = 0; this.#running; i++) {
      const title = `${this.label}-${n}-${i}`;
      const outcome =
        client.kind === 'write'
          ? await send(`${client.url}/notes`, { method: 'POST', headers, json: { title }, agent: this.agent })
          : await send(`${client.url}/notes/recent`, { headers, agent: this.agent });
      const status = outcome.kind === 'ok' ? String(outcome.status) : outcome.kind;
      const counts = this.statuses.get(client.tenant) ?? new Map<string, number>();
      this.statuses.set(client.tenant, counts.set(status, (counts.get(status) ?? 0) + 1));
      if (outcome.kind === 'ok' && outcome.status < 300) {
        times.push(performance.now());
        if (client.kind === 'write') this.acked.set(client.tenant, this.acked.get(client.tenant) ?? []).get(client.tenant)?.push(title);
        else for (const row of outcome.body as { marker: string }[]) if (row.marker !== client.tenant) this.foreign.push({ tenant: client.tenant, row });
      } else if (this.samples.length < 20) {
        this.samples.push({ tenant: client.tenant, kind: client.kind, outcome });
      }
      await sleep(5);
    }
  }
}
