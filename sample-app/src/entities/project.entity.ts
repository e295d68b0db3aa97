import type { Opt } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** Tenant data: lives in each tenant's schema (or database). */
@Entity({ tableName: 'project' })
export class Project {
  @PrimaryKey()
  id!: number;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'datetime' })
  createdAt: Opt<Date> = new Date();
}
