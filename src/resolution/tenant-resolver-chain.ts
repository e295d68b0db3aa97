import type { TenantRequest, TenantResolver } from './tenant-resolver.js';

/** Asks each resolver in turn; the first that finds something (even an empty string) wins. */
export class TenantResolverChain {
  /** How a client can send a tenant, for 400 messages. */
  readonly howToSend: string;

  constructor(private readonly resolvers: readonly TenantResolver[]) {
    this.howToSend = `send ${resolvers.map((r) => r.describe).join(' or ')}`;
  }

  /** Synchronous while every resolver asked is (the built-in ones are): no promise on the request path. */
  resolve(request: TenantRequest): string | undefined | Promise<string | undefined> {
    for (let i = 0; i < this.resolvers.length; i++) {
      const found = (this.resolvers[i] as TenantResolver).resolve(request);
      if (found instanceof Promise) return this.resolveAsync(request, found, i);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private async resolveAsync(request: TenantRequest, pending: Promise<string | undefined>, index: number): Promise<string | undefined> {
    const found = await pending;
    if (found !== undefined) return found;
    for (const resolver of this.resolvers.slice(index + 1)) {
      const next = await resolver.resolve(request);
      if (next !== undefined) return next;
    }
    return undefined;
  }
}
