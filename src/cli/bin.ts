#!/usr/bin/env node
import 'reflect-metadata';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HELP, parseCliArgs, UsageError } from './args.js';
import { loadAppModule } from './app-module-loader.js';
import { runCommand } from './commands.js';
import { CliOutput } from './output.js';
import { StderrLogger } from './stderr-logger.js';
import { messageOf } from '../errors/message-of.js';

/** `mikro-tenancy`: boots the app's module as an application context (no HTTP server) and runs one command. */
async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const out = new CliOutput(args.json);
  if (args.help || !args.command) {
    process.stdout.write(`${HELP}\n`);
    return args.help ? 0 : 2;
  }
  let app: INestApplicationContext | undefined;
  try {
    const { module, source } = await loadAppModule(args.module, process.cwd());
    const logger = new StderrLogger();
    logger.setLogLevels(['error', 'warn']); // boot chatter would drown the result; failures still show
    app = await NestFactory.createApplicationContext(module, { logger, abortOnError: false }).catch((error: unknown) => {
      throw new UsageError(`Booting ${source} failed: ${messageOf(error)}`);
    });
    return await runCommand(app, args, out);
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`mikro-tenancy: ${error.message}\nRun mikro-tenancy --help for usage.`);
      return 2;
    }
    out.error(`mikro-tenancy: ${messageOf(error)}`);
    return 1;
  } finally {
    await app?.close().catch((error: unknown) => new Logger('mikro-tenancy').error(`Closing the app failed: ${String(error)}`));
  }
}

process.exitCode = await main(process.argv.slice(2));
