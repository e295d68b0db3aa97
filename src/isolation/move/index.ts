/** Moving a tenant schema between PostgreSQL servers on logical replication (issue 17): what the lifecycle uses. */
export { moveSchema, type SchemaMoveOptions, type SchemaMoveReport, type SchemaMoveStep, type SchemaMoveTiming } from './schema-move.js';
export { moveSideOf, type MoveQuery, type MoveSide } from './move-sql.js';
export { moveIdFor, moveNamesOf, type MoveNames } from './move-names.js';
export * from './move.errors.js';
