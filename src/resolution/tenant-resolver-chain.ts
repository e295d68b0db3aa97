import type { TenantRequest, TenantResolver } from './tenant-resolver.js';

/** Asks each resolver in turn; the first that finds something (even an empty string) wins. */
export class TenantResolverChain {
  /** How a client can send a tenant, for 400 messages. */
  readonly howToSend: string;

  constructor(private readonly resolvers: readonly TenantResolver[]) {
    this.howToSend = `send ${resolvers.map((r) => r.describe).join(' or ')}`;
  }

  async resolve(request: TenantRequest): Promise<string | undefined> {
    for (const resolver of this.resolvers) {
      const found = await resolver.resolve(request);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}
