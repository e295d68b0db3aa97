import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** A person, in the hub database; belongs to tenants through memberships. */
@Entity({ tableName: 'app_user' })
export class User {
  @PrimaryKey()
  id!: number;

  @Unique()
  @Property({ type: 'string' })
  email!: string;
}
