import { EntityRepository } from '@mikro-orm/postgresql';
import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, ParseIntPipe, Post } from '@nestjs/common';
import { CurrentTenant, InjectRepository, RequireTenant, type TenantRecord } from '../../../src/index.js';
import { AnalyticsService } from '../analytics/analytics.service.js';
import { Project } from '../entities/project.entity.js';
import { Task } from '../entities/task.entity.js';
import { CreateProjectDto, CreateTaskDto } from './tenant-data.dto.js';

/** Projects and their tasks, in the current tenant's schema (or database): `x-tenant-id` header or subdomain. */
@RequireTenant()
@Controller('projects')
export class ProjectsController {
  constructor(
    @InjectRepository(Project, 'tenant') private readonly projects: EntityRepository<Project>,
    @InjectRepository(Task, 'tenant') private readonly tasks: EntityRepository<Task>,
    private readonly analytics: AnalyticsService,
  ) {}

  @Get()
  list() {
    return this.projects.findAll({ orderBy: { id: 'asc' } });
  }

  @Post()
  async create(@Body() body: CreateProjectDto, @CurrentTenant() tenant: TenantRecord) {
    const project = this.projects.create({ name: body.name });
    await this.projects.getEntityManager().flush();
    await this.analytics.record(tenant.id, 'project.created');
    return project;
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return this.find(id);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', ParseIntPipe) id: number) {
    await this.projects.getEntityManager().remove(await this.find(id)).flush();
  }

  @Get(':id/tasks')
  async listTasks(@Param('id', ParseIntPipe) id: number) {
    return this.tasks.find({ project: await this.find(id) }, { orderBy: { id: 'asc' } });
  }

  @Post(':id/tasks')
  async addTask(@Param('id', ParseIntPipe) id: number, @Body() body: CreateTaskDto, @CurrentTenant() tenant: TenantRecord) {
    const task = this.tasks.create({ project: await this.find(id), title: body.title });
    await this.tasks.getEntityManager().flush();
    await this.analytics.record(tenant.id, 'task.created');
    return task;
  }

  private async find(id: number): Promise<Project> {
    const project = await this.projects.findOne(id);
    if (!project) throw new NotFoundException(`Project ${id} does not exist in this tenant.`);
    return project;
  }
}
