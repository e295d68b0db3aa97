import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { TenancyRuntime } from '../runtime/tenancy-runtime.js';
import { OUTBOX_HANDLER_METADATA, type OutboxHandlerMetadata, type OutboxHandlerMethod } from './outbox-handler.decorator.js';
import { OutboxReceipt } from './outbox-receipt.entity.js';
import { OutboxSetupError, OutboxUsageError, missingEntityMessage } from './outbox.errors.js';

/** A handler found at boot. */
export interface RegisteredHandler {
  topic: string;
  /** Only for messages to this context; undefined: any destination. */
  context?: string;
  /** `ClassName.method`, for messages. */
  name: string;
  call: OutboxHandlerMethod;
}

/** Topics and keys are stored in varchar(255) columns. */
export function checkName(what: 'topic' | 'key', value: unknown, usage: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new OutboxUsageError(`${usage}: the ${what} must be a non-empty string of at most 255 characters, got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value;
}

/** Every `@OutboxHandler` method of the app, found and checked at boot. */
@Injectable()
export class OutboxHandlerRegistry implements OnModuleInit {
  readonly #byTopic = new Map<string, RegisteredHandler[]>();
  readonly #logger = new Logger('Outbox');

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(TenancyRuntime) private readonly runtime: TenancyRuntime,
  ) {}

  onModuleInit(): void {
    const problems: string[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        // read from the prototype, never the instance: some instances forward every read (the tenant EntityManager
        // stands for the current tenant's, and throws at boot, where there is none)
        const fn = prototype[method];
        const meta = typeof fn === 'function' ? (Reflect.getMetadata(OUTBOX_HANDLER_METADATA, fn) as OutboxHandlerMetadata | undefined) : undefined;
        if (!meta) continue;
        const name = `${(instance as object).constructor.name}.${method}`;
        // a request-scoped provider has no instance outside a request: the relay could never call it
        if (!wrapper.isDependencyTreeStatic()) {
          problems.push(`${name}: @OutboxHandler needs a singleton provider; this one is request-scoped (or depends on one)`);
          continue;
        }
        problems.push(...this.register({ ...meta, name, call: (fn as OutboxHandlerMethod).bind(instance) }));
      }
    }
    if (problems.length) throw new OutboxSetupError(`Outbox handlers cannot be registered:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    const count = [...this.#byTopic.values()].reduce((n, list) => n + list.length, 0);
    this.#logger.log(`${count} outbox handler(s) for ${this.#byTopic.size} topic(s)`);
  }

  /** The handler of `topic` for messages to `to`: its own for that context first, then one for any context. */
  find(topic: string, to: string): RegisteredHandler | undefined {
    const handlers = this.#byTopic.get(topic) ?? [];
    return handlers.find((h) => h.context === to) ?? handlers.find((h) => h.context === undefined);
  }

  /** Problems with one handler (empty when registered). */
  private register(handler: RegisteredHandler): string[] {
    try {
      checkName('topic', handler.topic, `@OutboxHandler on ${handler.name}`);
    } catch (error) {
      return [(error as Error).message];
    }
    const { context } = handler;
    if (context !== undefined) {
      if (!this.runtime.contextNames.includes(context)) {
        return [`${handler.name}: context '${context}' is not a static context of MikroTenancyModule (static contexts: ${this.runtime.contextNames.join(', ') || 'none'})`];
      }
      if (!this.runtime.orm(context).getMetadata().find(OutboxReceipt)) return [missingEntityMessage(context, 'OutboxReceipt', `${handler.name}`)];
    }
    const list = this.#byTopic.get(handler.topic) ?? [];
    const clash = list.find((h) => h.context === context);
    if (clash) return [`${handler.name} and ${clash.name} both handle topic '${handler.topic}'${context ? ` in context '${context}'` : ''}: keep one, or give each its own { context }`];
    list.push(handler);
    this.#byTopic.set(handler.topic, list);
    return [];
  }
}
