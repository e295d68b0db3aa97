import { AnalyticsEvent, User } from './entities.js';
import { SignupController, SignupService } from './signup.service.js';

import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { defineConfig } from '@mikro-orm/postgresql';
import { Module } from '@nestjs/common';
import { MikroTenancyModule } from 'nestjs-mikro-tenancy';

const common = { metadataProvider: ReflectMetadataProvider } as const;

@Module({
  imports: [
    MikroTenancyModule.forRoot({
      contexts: {
        default: defineConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [User] }),
        analytics: defineConfig({ ...common, clientUrl: process.env.ANALYTICS_URL, entities: [AnalyticsEvent] }),
      },
    }),
    MikroTenancyModule.forFeature([User]),                          // repositories of the 'default' context
    MikroTenancyModule.forFeature([AnalyticsEvent], 'analytics'),   // repositories of 'analytics'
  ],
  controllers: [SignupController],
  providers: [SignupService],
})
export class AppModule {}
