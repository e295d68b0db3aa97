/**
 * A write that waits before it reaches the database, for the database-isolation move test: admitted (its tenant
 * resolved and leased) before a move's fence, it reaches the source while the fence holds its locks.
 */
import { EntityManager } from '@mikro-orm/postgresql';
import { Body, Controller, Post } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectEntityManager, RequireTenant, TenancyService } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';

@Controller('slow-notes')
export class MoveDbSlowNotesController {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  @RequireTenant()
  @Post()
  async add(@Body() body: { title: string; waitMs: number }) {
    await sleep(body.waitMs);
    const note = this.em.create(Note, { title: body.title, marker: this.tenancy.current().id });
    await this.em.flush();
    return { id: note.id, title: note.title };
  }
}
