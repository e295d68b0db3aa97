import { parseCliArgs } from '../../src/cli/args.js';

describe('mikro-tenancy arguments: --tier', () => {
  it('takes the three tiers (tenant create puts the tenant there; tenant move refuses the shared tier itself)', () => {
    for (const tier of ['shared', 'schema', 'database'] as const) {
      expect(parseCliArgs(['tenant', 'create', 'acme', '--tier', tier]).tier).toBe(tier);
    }
    expect(parseCliArgs(['tenant', 'create', 'acme']).tier).toBeUndefined();
  });

  it('refuses any other tier, naming the three', () => {
    expect(() => parseCliArgs(['tenant', 'create', 'acme', '--tier', 'premium'])).toThrow("--tier must be 'shared', 'schema' or 'database', got 'premium'");
  });
});
