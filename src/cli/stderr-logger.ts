import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/** Nest's console logger, but every level goes to stderr: stdout carries only the command's result (--json). */
export class StderrLogger extends ConsoleLogger {
  protected override printMessages(messages: unknown[], context?: string, logLevel?: LogLevel): void {
    super.printMessages(messages, context, logLevel, 'stderr');
  }
}
