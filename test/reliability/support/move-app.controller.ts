/** The tenant's notes over HTTP, for the app-level move test: one insert per POST, a cheap indexed read per GET. */
import { EntityManager } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { InjectEntityManager, RequireTenant, TenancyService } from '../../../src/index.js';
import { Note } from '../../fixtures/entities/note.entity.js';

@Controller('notes')
export class MoveNotesController {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  @RequireTenant()
  @Post()
  async add(@Body() body: { title: string }) {
    const note = this.em.create(Note, { title: body.title, marker: this.tenancy.current().id });
    await this.em.flush();
    return { id: note.id, title: note.title };
  }

  /** The newest notes (primary key index: no scan of a 100k-row table). */
  @RequireTenant()
  @Get('recent')
  recent() {
    return this.em.find(Note, {}, { orderBy: { id: 'desc' }, limit: 5 });
  }
}
