import { Collection, type Opt } from '@mikro-orm/core';
import { Entity, ManyToOne, OneToMany, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** The hub (the `default` context): one row per tenant. */
@Entity()
export class Tenant {
  @PrimaryKey({ type: 'string' })
  id!: string;

  @Property({ type: 'boolean', default: false })
  suspended: boolean & Opt = false;
}

/** Tenant data: every tenant's schema has its own `project` and `task` tables. */
@Entity()
export class Project {
  @PrimaryKey()
  id!: number;

  @Property()
  name!: string;

  @OneToMany(() => Task, (task) => task.project, { orderBy: { id: 'asc' } })
  tasks = new Collection<Task>(this);
}

@Entity()
export class Task {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;

  @Property({ type: 'boolean', default: false })
  done: boolean & Opt = false;

  @ManyToOne(() => Project, { hidden: true }) // hidden: not repeated in every task of the JSON
  project!: Project;
}
