import { AppModule } from './tenancy.module.js';

import { Module } from '@nestjs/common';
import { TenantSqlTagsModule } from 'nestjs-mikro-tenancy';

@Module({
  imports: [AppModule, TenantSqlTagsModule], // tenant queries end with /*tenant='acme'*/
})
export class TaggedAppModule {}
