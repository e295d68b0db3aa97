import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule);
app.enableShutdownHooks(); // Ctrl-C (SIGINT) and SIGTERM close every ORM, the tenants' included
await app.listen(process.env.PORT ?? 3000);
