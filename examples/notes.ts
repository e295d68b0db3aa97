import { Note, NoteRepository } from './tenancy.entities.js';

import { EntityManager } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Injectable, Post } from '@nestjs/common';
import {
  CurrentTenant, InjectEntityManager, InjectRepository, RequireTenant, TenancyService, type TenantRecord,
} from 'nestjs-mikro-tenancy';

@Injectable()
export class NotesService {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    @InjectRepository(Note, 'tenant') private readonly notes: NoteRepository,
    private readonly tenancy: TenancyService,
  ) {}

  async add(title: string): Promise<Note> {
    const note = this.em.create(Note, { title, marker: this.tenancy.current().id });
    await this.em.flush(); // into the current tenant's schema
    return note;
  }

  list(): Promise<Note[]> {
    return this.notes.findAll();
  }
}

@Controller('notes')
@RequireTenant() // without a tenant: 400 "This route needs a tenant and none was sent: ..."
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  async list(@CurrentTenant() tenant: TenantRecord) {
    return { tenant: tenant.id, notes: await this.notes.list() };
  }

  @Post()
  add(@Body() body: { title: string }) {
    return this.notes.add(body.title);
  }
}
