import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import type { Rel } from '@mikro-orm/core';
import { Tenant } from './tenant.entity.js';
import { User } from './user.entity.js';

/** Which users belong to which tenant, and as what. Hub database. */
@Entity({ tableName: 'membership' })
@Unique({ properties: ['user', 'tenant'] })
export class Membership {
  @PrimaryKey()
  id!: number;

  @ManyToOne(() => User)
  user!: Rel<User>;

  @ManyToOne(() => Tenant, { deleteRule: 'cascade' }) // dropping a tenant removes its memberships
  tenant!: Rel<Tenant>;

  @Property({ type: 'string' })
  role!: 'owner' | 'member';
}
