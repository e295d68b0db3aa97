import { ObjectHydrator, type Options } from '@mikro-orm/core';

/** MikroORM's `hydrator` option (its HydratorConstructor type is not exported). */
type HydratorConstructor = Options['hydrator'];
/** The three methods of MikroORM's IHydrator used here (arguments passed through as they come). */
interface Hydrating {
  hydrate(...args: unknown[]): void;
  hydrateReference(...args: unknown[]): void;
  isRunning(): boolean;
}

/**
 * One "is an entity being hydrated?" answer for every ORM the library opens on the tenant entities.
 *
 * MikroORM (7.x) decorates the entity prototypes at every `MikroORM.init`, and the last ORM initialised wins. The
 * setters that propagate a bidirectional relation (`EntityHelper.defineProperties`/`defineReferenceProperty`, and
 * the per-instance ones of `meta.definedProperties`, through `WrappedEntity.hydrator`) decide with
 * `hydrator.isRunning()` whether a propagation happens inside hydration: if so, an owning side's foreign key goes
 * straight into the entity's `__originalEntityData`. That `hydrator` is the one of the ORM that decorated the
 * prototype, not the one hydrating. So, with several tenant ORMs on the same classes, when tenant A loads an
 * author, the author's 1:1 profile reference gets `author` by propagation while B's hydrator says "not running":
 * the profile's original data lacks `author`, and A's next flush writes `update "profile" set "author_id" = <same>`
 * (row locks nobody asked for: deadlocks under concurrent writes). Any owning side set by propagation during
 * hydration is hit the same way.
 *
 * Hydration is synchronous, so "the hydrator hydrating right now on this thread" is exact process-wide: every
 * hydrator made by `sharedHydrationState` records itself while it hydrates, and answers `isRunning()` for that one.
 * Whichever of these ORMs decorated the prototypes last then answers like the ORM that is hydrating.
 *
 * Relies on MikroORM internals (the prototype setters asking `isRunning()` of the decorating ORM's hydrator, and
 * hydration going through `hydrate`/`hydrateReference`): test/unit/shared-hydration-state.spec.ts fails if they change.
 */
// Module-level on purpose (the one exception to "no module-level state" here): the entity prototypes this corrects
// are themselves process-wide, shared by every ORM and every module instance on the same classes.
let hydrating: Hydrating | undefined;

const SHARED = Symbol('nestjs-mikro-tenancy:shared-hydration-state');
const classes = new WeakMap<HydratorConstructor, HydratorConstructor>();

/** The hydrator class `Base` (default: MikroORM's ObjectHydrator) answering `isRunning()` with the shared state. */
export function sharedHydrationState(Base: HydratorConstructor = ObjectHydrator): HydratorConstructor {
  if ((Base as unknown as Record<symbol, unknown>)[SHARED]) return Base;
  const known = classes.get(Base);
  if (known) return known;
  class SharedStateHydrator extends (Base as unknown as new (...args: ConstructorParameters<HydratorConstructor>) => Hydrating) {
    static readonly [SHARED] = true;

    // each records this hydrator as the one hydrating (synchronously) and restores the outer one after; written out
    // twice rather than through a callback, so hydrating an entity allocates no closure
    override hydrate(...args: unknown[]): void {
      const outer = hydrating;
      hydrating = this;
      try {
        super.hydrate(...args);
      } finally {
        hydrating = outer;
      }
    }

    override hydrateReference(...args: unknown[]): void {
      const outer = hydrating;
      hydrating = this;
      try {
        super.hydrateReference(...args);
      } finally {
        hydrating = outer;
      }
    }

    override isRunning(): boolean {
      return hydrating === undefined || hydrating === this ? super.isRunning() : hydrating.isRunning();
    }
  }
  Object.defineProperty(SharedStateHydrator, 'name', { value: `${Base.name}WithSharedState` });
  classes.set(Base, SharedStateHydrator as unknown as HydratorConstructor);
  return SharedStateHydrator as unknown as HydratorConstructor;
}
