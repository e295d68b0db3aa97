import { EntityRepository } from '@mikro-orm/postgresql';
import { BadRequestException, Body, Controller, Get, Post } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { InjectEntityManager, InjectRepository, RequireTenant, TenancyService } from '../../../src/index.js';
import { Event } from '../entities/event.entity.js';
import { Project } from '../entities/project.entity.js';

@Controller()
export class ProjectsController {
  constructor(
    @InjectRepository(Project, 'tenant') private readonly projects: EntityRepository<Project>,
    @InjectEntityManager('analytics') private readonly analytics: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @RequireTenant()
  @Get('projects')
  list() {
    return this.projects.findAll({ orderBy: { id: 'asc' } });
  }

  @RequireTenant()
  @Post('projects')
  async create(@Body() body: { name?: unknown }) {
    if (typeof body?.name !== 'string' || !body.name.trim()) throw new BadRequestException('name must be a non-empty string');
    const project = this.projects.create({ name: body.name.trim() });
    await this.projects.getEntityManager().flush();
    this.analytics.create(Event, { tenant: this.tenancy.current().id, name: 'project.created', at: new Date() });
    await this.analytics.flush();
    return project;
  }

  @Get('analytics/summary')
  async summary() {
    const rows = await this.analytics.getConnection().execute<{ tenant: string; events: string }[]>(
      'select tenant, count(*)::text as events from event group by tenant order by tenant',
    );
    return rows.map((r) => ({ tenant: r.tenant, events: Number(r.events) }));
  }
}
