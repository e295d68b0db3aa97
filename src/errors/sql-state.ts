/** The SQLSTATE of a driver error, through MikroORM's wrapping (`cause`). */
export function sqlStateOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 4; depth++) {
    const { code, sqlState, cause } = current as { code?: unknown; sqlState?: unknown; cause?: unknown };
    if (typeof sqlState === 'string' && sqlState.length === 5) return sqlState;
    if (typeof code === 'string' && code.length === 5) return code;
    current = cause;
  }
  return undefined;
}
