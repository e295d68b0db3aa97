import type { Opt } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** The hub (the `default` context): one row per tenant. */
@Entity()
export class Tenant {
  @PrimaryKey({ type: 'string' })
  id!: string;

  @Property({ type: 'boolean', default: false })
  suspended: boolean & Opt = false;
}

/** Tenant data: every tenant's schema has its own `note` table. */
@Entity()
export class Note {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;
}
