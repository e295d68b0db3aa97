import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { OutboxBatch } from './outbox-batch.js';
import { OutboxDeliverer } from './outbox-delivery.js';
import { OutboxHandlerRegistry } from './outbox-handler-registry.js';
import { OutboxRelay } from './outbox-relay.js';
import { OutboxSources } from './outbox-source.js';
import { Outbox } from './outbox.service.js';
import { OUTBOX_OPTIONS, type OutboxModuleAsyncOptions, type OutboxModuleOptions, normalizeOutboxOptions } from './outbox.options.js';

const PROVIDERS: Provider[] = [OutboxHandlerRegistry, OutboxSources, OutboxDeliverer, OutboxBatch, OutboxRelay, Outbox];

/**
 * The outbox across contexts: import it once, next to MikroTenancyModule.forRoot. It makes `Outbox` injectable
 * everywhere, finds the `@OutboxHandler` methods of your providers, and runs the relay in the background.
 */
@Module({})
export class OutboxModule {
  static forRoot(options: OutboxModuleOptions = {}): DynamicModule {
    const normalized = normalizeOutboxOptions(options); // invalid options fail where forRoot is called
    return { module: OutboxModule, global: true, imports: [DiscoveryModule], providers: [{ provide: OUTBOX_OPTIONS, useValue: normalized }, ...PROVIDERS], exports: [Outbox] };
  }

  /** For options that come from other providers (ConfigService...). */
  static forRootAsync(options: OutboxModuleAsyncOptions): DynamicModule {
    const { imports = [], useFactory, inject = [] } = options;
    const factory = async (...args: never[]) => normalizeOutboxOptions(await useFactory(...args));
    return {
      module: OutboxModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [{ provide: OUTBOX_OPTIONS, useFactory: factory, inject }, ...PROVIDERS],
      exports: [Outbox],
    };
  }
}
