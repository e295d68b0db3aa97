import { common } from './common.js';
import { AnalyticsEvent, User } from './entities.js';

import { PostgreSqlDriver, defineConfig } from '@mikro-orm/postgresql';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { MikroTenancyModule } from 'nestjs-mikro-tenancy';

MikroTenancyModule.forRootAsync({
  imports: [ConfigModule],
  inject: [ConfigService],
  contexts: ['default', 'analytics'],  // must match the keys the factory returns
  driver: PostgreSqlDriver,            // optional: makes @mikro-orm/postgresql's EntityManager/MikroORM injectable by class
  useFactory: (config: ConfigService) => ({
    contexts: {
      default: defineConfig({ ...common, clientUrl: config.getOrThrow('DATABASE_URL'), entities: [User] }),
      analytics: defineConfig({ ...common, clientUrl: config.getOrThrow('ANALYTICS_URL'), entities: [AnalyticsEvent] }),
    },
  }),
});
