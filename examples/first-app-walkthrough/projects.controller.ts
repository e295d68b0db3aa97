import { EntityManager, EntityRepository } from '@mikro-orm/postgresql';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { InjectEntityManager, InjectRepository, RequireTenant } from 'nestjs-mikro-tenancy';
import { Project, Task } from './entities.js';

@Controller('projects')
@RequireTenant() // a request without a tenant gets a 400 that says how to send one
export class ProjectsController {
  constructor(
    @InjectRepository(Project, 'tenant') private readonly projects: EntityRepository<Project>,
    @InjectEntityManager('tenant') private readonly em: EntityManager,
  ) {}

  @Get()
  list(): Promise<Project[]> {
    // the current tenant's projects, each with its tasks
    return this.projects.findAll({ populate: ['tasks'], orderBy: { id: 'asc' } });
  }

  @Post()
  async create(@Body() body: { name: string; tasks?: string[] }): Promise<Project> {
    const project = this.em.create(Project, { name: body.name });
    for (const title of body.tasks ?? []) this.em.create(Task, { title, project });
    await this.em.flush(); // one transaction, in the current tenant's schema
    return project;
  }
}
