/** A transactional endpoint for the soak: two notes written in one transaction, with an await between them. */
import { EntityManager } from '@mikro-orm/postgresql';
import { Body, Controller, Post, Query } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectEntityManager, RequireTenant, TenancyService } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';

@Controller()
export class TxNotesController {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  /**
   * Writes `<title>#a`, waits `pause` ms inside the open transaction, writes `<title>#b`, then reads the tenant's
   * latest rows inside the same transaction. Returns what it wrote and what it saw (callers check every marker).
   */
  @RequireTenant()
  @Post('tx-notes')
  addTwo(@Body() body: { title: string }, @Query('pause') pause?: string) {
    const marker = this.tenancy.current().id;
    const pauseMs = Number(pause ?? 0);
    return this.em.transactional(async (em) => {
      const first = em.create(Note, { title: `${body.title}#a`, marker });
      await em.flush();
      if (pauseMs) await sleep(pauseMs);
      const second = em.create(Note, { title: `${body.title}#b`, marker });
      await em.flush();
      const seen = await em.find(Note, {}, { orderBy: { id: 'desc' }, limit: 10 });
      return { written: [first, second], seen };
    });
  }
}
