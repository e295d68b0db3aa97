import { MikroTenancyModule } from 'nestjs-mikro-tenancy';
import { common } from './common.js';
import { AnalyticsEvent, User } from './entities.js';

import { defineConfig } from '@mikro-orm/core';
import { defineConfig as definePgConfig } from '@mikro-orm/postgresql';
import { NodeSqliteDialect, SqliteDriver } from '@mikro-orm/sql';

MikroTenancyModule.forRoot({
  contexts: {
    default: definePgConfig({ ...common, clientUrl: process.env.DATABASE_URL, entities: [User] }),
    analytics: defineConfig({
      ...common,
      driver: SqliteDriver,
      dbName: 'analytics.db',
      driverOptions: new NodeSqliteDialect('analytics.db'),
      entities: [AnalyticsEvent],
    }),
  },
});
