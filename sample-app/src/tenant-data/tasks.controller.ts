import { EntityRepository } from '@mikro-orm/postgresql';
import { Body, Controller, NotFoundException, Param, ParseIntPipe, Patch } from '@nestjs/common';
import { InjectRepository, RequireTenant } from '../../../src/index.js';
import { Task } from '../entities/task.entity.js';
import { UpdateTaskDto } from './tenant-data.dto.js';

@RequireTenant()
@Controller('tasks')
export class TasksController {
  constructor(@InjectRepository(Task, 'tenant') private readonly tasks: EntityRepository<Task>) {}

  /** Renames a task or marks it done. */
  @Patch(':id')
  async update(@Param('id', ParseIntPipe) id: number, @Body() body: UpdateTaskDto) {
    const task = await this.tasks.findOne(id);
    if (!task) throw new NotFoundException(`Task ${id} does not exist in this tenant.`);
    this.tasks.assign(task, body);
    await this.tasks.getEntityManager().flush();
    return task;
  }
}
