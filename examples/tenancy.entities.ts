import { EntityRepository } from '@mikro-orm/postgresql';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

@Entity({ tableName: 'tenant' })
export class Tenant {
  @PrimaryKey({ type: 'string' })
  id!: string;

  @Property({ type: 'boolean', default: false })
  suspended: boolean & {} = false;

  @Property({ type: 'string', nullable: true })
  name?: string;
}

export class NoteRepository extends EntityRepository<Note> {}

@Entity({ tableName: 'note', repository: () => NoteRepository })
export class Note {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;

  @Property()
  marker!: string;
}
