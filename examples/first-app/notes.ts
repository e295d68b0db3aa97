import { EntityManager, EntityRepository } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Injectable, Post } from '@nestjs/common';
import { InjectEntityManager, InjectRepository, RequireTenant } from 'nestjs-mikro-tenancy';
import { Note } from './entities.js';

@Injectable()
export class NotesService {
  constructor(
    @InjectRepository(Note, 'tenant') private readonly notes: EntityRepository<Note>,
    @InjectEntityManager('tenant') private readonly em: EntityManager,
  ) {}

  list(): Promise<Note[]> {
    return this.notes.findAll({ orderBy: { id: 'asc' } }); // the current tenant's notes only
  }

  async add(title: string): Promise<Note> {
    const note = this.em.create(Note, { title });
    await this.em.flush(); // into the current tenant's schema
    return note;
  }
}

@Controller('notes')
@RequireTenant() // a request without a tenant gets a 400 that says how to send one
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  list() {
    return this.notes.list();
  }

  @Post()
  add(@Body() body: { title: string }) {
    return this.notes.add(body.title);
  }
}
