import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '../../../src/index.js';
import { Event } from '../entities/event.entity.js';

/** Writes and reads product events in the analytics database (a second static context). */
@Injectable()
export class AnalyticsService {
  constructor(@InjectEntityManager('analytics') private readonly em: EntityManager) {}

  /** Records an event; the analytics fork of this request is flushed on its own, apart from tenant data. */
  async record(tenant: string, name: string): Promise<void> {
    this.em.create(Event, { tenant, name });
    await this.em.flush();
  }

  /** Event counts of one tenant, by name. */
  async summary(tenant: string): Promise<Record<string, number>> {
    const rows = await this.em
      .getConnection()
      .execute<{ name: string; count: number }[]>('select name, count(*)::int as count from event where tenant = ? group by name order by name', [tenant]);
    return Object.fromEntries(rows.map((row) => [row.name, Number(row.count)]));
  }
}
