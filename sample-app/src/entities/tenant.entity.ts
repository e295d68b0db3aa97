import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** A customer organisation, kept in the hub database. */
@Entity({ tableName: 'tenant' })
export class Tenant {
  @PrimaryKey({ type: 'string' })
  id!: string;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'boolean', default: false })
  suspended: boolean & {} = false;
}
