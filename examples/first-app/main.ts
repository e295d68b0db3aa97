import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule);
app.enableShutdownHooks(); // SIGTERM / Ctrl-C close every ORM, tenant ORMs included
await app.listen(process.env.PORT ?? 3000);
