export * from './tenancy.error.js';
export * from './tenant.errors.js';
export * from './options.errors.js';
export * from './lifecycle.errors.js';
export * from './database-unavailable.error.js';
export * from './isolation.errors.js';
export * from './placement.errors.js';
