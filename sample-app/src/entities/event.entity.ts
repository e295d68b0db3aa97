import type { Opt } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** Product analytics, kept in the analytics database: one row per thing that happened in a tenant. */
@Entity({ tableName: 'event' })
@Index({ properties: ['tenant', 'name'] })
export class Event {
  @PrimaryKey()
  id!: number;

  @Property({ type: 'string' })
  tenant!: string;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'datetime' })
  at: Opt<Date> = new Date();
}
