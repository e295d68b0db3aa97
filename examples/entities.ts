/**
 * Entities the README snippets use without declaring them. `examples/` is type-checked by `npm run typecheck`,
 * and test/unit/readme-snippets.spec.ts checks that every README ```ts block appears verbatim in one of its files.
 */
import { type Opt } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

@Entity({ tableName: 'app_user' })
export class User {
  @PrimaryKey()
  id!: number;

  @Property()
  email!: string;
}

@Entity({ tableName: 'analytics_event' })
export class AnalyticsEvent {
  @PrimaryKey()
  id!: number;

  @Property()
  name!: string;

  @Property()
  subject!: string;
}

@Entity({ tableName: 'project' })
export class Project {
  @PrimaryKey()
  id!: number;

  @Property()
  name!: string;
}

@Entity({ tableName: 'task' })
export class Task {
  @PrimaryKey()
  id!: number;

  @ManyToOne(() => Project)
  project!: Project;

  @Property()
  title!: string;

  @Property({ type: 'boolean', default: false })
  done: boolean & Opt = false;
}
