import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** Product analytics, kept in the analytics database. */
@Entity({ tableName: 'event' })
export class Event {
  @PrimaryKey()
  id!: number;

  @Property({ type: 'string' })
  tenant!: string;

  @Property({ type: 'string' })
  name!: string;

  @Property({ type: 'datetime' })
  at: Date & {} = new Date();
}
