import { defaultConfig, store, tenantConfig } from './common.js';
import { ConfigsModule } from './configs.module.js';

import { Injectable } from '@nestjs/common';
import { MikroTenancyModule, type MikroTenancyModuleOptions, type MikroTenancyOptionsFactory } from 'nestjs-mikro-tenancy';

@Injectable()
export class TenancyConfig implements MikroTenancyOptionsFactory {
  createMikroTenancyOptions(): MikroTenancyModuleOptions {
    return { contexts: { default: defaultConfig }, tenancy: { isolation: 'schema', config: tenantConfig, store } };
  }
}

MikroTenancyModule.forRootAsync({ contexts: ['default'], tenancy: {}, useClass: TenancyConfig });
// or, when an imported module already provides TenancyConfig:
MikroTenancyModule.forRootAsync({ imports: [ConfigsModule], contexts: ['default'], tenancy: {}, useExisting: TenancyConfig });
