import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import type { Opt, Rel } from '@mikro-orm/core';
import { Project } from './project.entity.js';

/** Tenant data: a task of a project, in the same tenant schema (or database). */
@Entity({ tableName: 'task' })
export class Task {
  @PrimaryKey()
  id!: number;

  @ManyToOne(() => Project, { deleteRule: 'cascade' })
  project!: Rel<Project>;

  @Property({ type: 'string' })
  title!: string;

  @Property({ type: 'boolean', default: false })
  done: Opt<boolean> = false;
}
