import type { INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Outbox } from './outbox.service.js';

/** The app's Outbox, or undefined when it does not import OutboxModule (for the CLI, which boots any app). */
export function outboxOf(app: INestApplicationContext): Outbox | undefined {
  const modules = app.get(ModulesContainer, { strict: false });
  const present = [...modules.values()].some((module) => module.providers.has(Outbox));
  return present ? app.get(Outbox, { strict: false }) : undefined;
}
