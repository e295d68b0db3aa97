import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule); // tenancy: { resolve: [TenantResolvers.path()], ... }
app.setGlobalPrefix('t/:tenant'); // GET /t/acme/notes reaches @Controller('notes') @Get()
await app.listen(3000);
