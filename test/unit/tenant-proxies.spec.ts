import { createTenantEntityManager, createTenantRepository } from '../../src/scope/tenant-proxies.js';
import type { EntityManager, EntityName } from '@mikro-orm/core';

/** Stands for a fork: a private field (so a method run with the proxy as `this` would throw), a getter, data. */
class FakeFork {
  readonly #name: string;
  calls = 0;
  readonly repositories = new Map<string, { entity: string; owner: string; count(): string }>();
  constructor(name: string) {
    this.#name = name;
  }
  get schema(): string {
    return `schema_of_${this.#name}`;
  }
  whoAmI(suffix = ''): string {
    this.calls++;
    return `${this.#name}${suffix}`;
  }
  getRepository(entity: string): { entity: string; owner: string; count(): string } {
    let repository = this.repositories.get(entity);
    if (!repository) {
      const owner = this.#name;
      repository = { entity, owner, count: () => `${entity}@${owner}` };
      this.repositories.set(entity, repository);
    }
    return repository;
  }
}
class FakeForkWithExtra extends FakeFork {
  extra(): string {
    return `extra of ${this.whoAmI()}`;
  }
}

function proxyOver(current: { fork: FakeFork | undefined }): FakeFork {
  const resolve = (): FakeFork => {
    if (!current.fork) throw new Error('no tenant');
    return current.fork;
  };
  return createTenantEntityManager(FakeFork.prototype, resolve as unknown as () => EntityManager) as unknown as FakeFork;
}

describe('tenant proxies (the injected tenant EntityManager and repositories)', () => {
  it('calls each method on the fork current when it is called, with the fork as `this`', () => {
    const current: { fork: FakeFork | undefined } = { fork: new FakeFork('a') };
    const em = proxyOver(current);
    expect(em.whoAmI('!')).toBe('a!');
    const method = em.whoAmI; // read under tenant a...
    current.fork = new FakeFork('b');
    expect(method()).toBe('b'); // ...called under tenant b: b's fork, never a's
    expect(em.whoAmI).toBe(method); // one forwarding function per method name, not one per read
  });

  it('reads getters and data of the current fork, and writes to it', () => {
    const a = new FakeFork('a');
    const current: { fork: FakeFork | undefined } = { fork: a };
    const em = proxyOver(current);
    expect(em.schema).toBe('schema_of_a');
    em.calls = 41;
    expect(a.calls).toBe(41);
    expect('whoAmI' in em).toBe(true);
    current.fork = new FakeFork('b');
    expect(em.schema).toBe('schema_of_b');
    expect(em.calls).toBe(0);
  });

  it('forwards a method the given prototype lacks (a subclass fork) by binding it to the fork', () => {
    const current: { fork: FakeFork | undefined } = { fork: new FakeForkWithExtra('c') };
    const em = proxyOver(current) as FakeForkWithExtra;
    expect(em).toBeInstanceOf(FakeFork);
    expect(em.extra()).toBe('extra of c');
  });

  it('throws at the call when there is no current fork, and answers introspection without one', () => {
    const em = proxyOver({ fork: undefined });
    expect(() => em.whoAmI()).toThrow('no tenant');
    expect(() => em.schema).toThrow('no tenant');
    expect((em as unknown as { then?: unknown }).then).toBeUndefined(); // Nest's promise check at boot
  });

  it('the repository proxy finds the current fork\'s repository at each call', () => {
    const current: { fork: FakeFork | undefined } = { fork: new FakeFork('a') };
    const resolve = (): FakeFork => current.fork as FakeFork;
    class Repository {
      count(): string {
        return 'never called on the shell';
      }
    }
    const repository = createTenantRepository('Item' as unknown as EntityName<object>, Repository, resolve as unknown as () => EntityManager) as unknown as Repository;
    expect(repository.count()).toBe('Item@a');
    current.fork = new FakeFork('b');
    expect(repository.count()).toBe('Item@b');
    expect(repository).toBeInstanceOf(Repository);
  });
});
