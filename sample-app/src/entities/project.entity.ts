import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** Tenant data: one table per tenant schema. */
@Entity({ tableName: 'project' })
export class Project {
  @PrimaryKey()
  id!: number;

  @Property({ type: 'string' })
  name!: string;
}
