import { Module } from '@nestjs/common';
import { TenancyConfig } from './options-factory.js';

/** The "imported module that already provides TenancyConfig" of the useExisting example. */
@Module({ providers: [TenancyConfig], exports: [TenancyConfig] })
export class ConfigsModule {}
