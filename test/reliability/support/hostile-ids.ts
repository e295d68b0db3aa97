/**
 * A generated corpus of tenant ids no request may ever turn into a schema, database or SQL text: quotes, dots,
 * NUL and control characters, Unicode look-alikes, overlong values, reserved names and SQL fragments, each alone
 * and spliced into an otherwise valid id.
 */
const LOOKALIKES = ['а', 'е', 'о', 'р', 'с', 'ο', 'ı', 'ａ', 'ｃ', 'ℂ', 'ǅ', 'ß', 'é', 'e\u0301', '\u200b', '\u200d', '\ufeff', '\u00a0', '\u2028', '🙂'];
const PUNCTUATION = ["'", '"', '`', '.', '..', '/', '\\', ';', ',', ':', '*', '?', '%', '$', '#', '&', '=', '+', '@', '!', '(', ')', '[', ']', '{', '}', '<', '>', '|', '~', '^', ' ', '\t'];
const CONTROL = ['\u0000', '\u0001', '\u0007', '\u001b', '\u007f', '\u0085'];
const RESERVED = [
  'public', 'information_schema', 'pg_catalog', 'pg_toast', 'pg_temp_1', 'pg_', 'pg_acme', 'PUBLIC', 'Public',
  'information_schema.tables', 'pg_catalog.pg_class',
];
const SQL = [
  "acme'; drop table tenant; --", "' or '1'='1", "\" or \"1\"=\"1", '1;select pg_sleep(5)', "acme' union select 1 --",
  'acme"."note', 'tenant_acme"; drop schema public cascade; --', '$1', '$$acme$$', "E'\\x41'", 'acme/**/', '--', '/*',
  'x;drop database postgres', "'); truncate tenant; --", 'acme\\', 'U&"\\0061cme"', 'acme\' || pg_sleep(1) || \'',
];
const TRAVERSAL = ['../acme', '..%2facme', '%2e%2e', 'acme/..', 'acme%00', '%00acme', 'acme%27', '%41CME'];

/** Well-formed ids that are simply not registered: these must be 404, not 400. */
export const UNKNOWN_WELL_FORMED = ['zz-unknown', 'select', 'drop', 'null', 'undefined', 'admin', 'postgres', 'template1', 'tenant', '0', 'a-', 'a_'];

export function hostileIds(): string[] {
  const corpus = new Set<string>(['', ' ', '  ', 'ACME', 'Acme', 'a'.repeat(64), 'a'.repeat(100), 'a'.repeat(1000), 'a'.repeat(8000), '-acme', '_acme']);
  for (const base of [...RESERVED, ...SQL, ...TRAVERSAL]) corpus.add(base);
  for (const piece of [...LOOKALIKES, ...PUNCTUATION, ...CONTROL]) {
    corpus.add(piece);
    corpus.add(`${piece}acme`);
    corpus.add(`acme${piece}`);
    corpus.add(`ac${piece}me`);
    corpus.add(`${piece}${'a'.repeat(70)}`);
  }
  for (const lookalike of LOOKALIKES) {
    corpus.add('acme'.replace('a', lookalike));
    corpus.add('globex'.replace('o', lookalike));
  }
  // overlong names that PostgreSQL would truncate into a real tenant's name
  for (const length of [57, 58, 62, 63, 64, 65, 127, 128, 255, 256]) corpus.add(`acme${'x'.repeat(length - 4)}`.slice(0, length));
  for (const sql of SQL) for (const wrap of [(s: string) => `acme${s}`, (s: string) => `${s}acme`, (s: string) => s.toUpperCase()]) corpus.add(wrap(sql));
  for (const reserved of RESERVED) {
    corpus.add(`${reserved}.`);
    corpus.add(`"${reserved}"`);
    corpus.add(`${reserved}\u0000`);
  }
  for (let i = 0; corpus.size < 1100; i++) {
    // deterministic pseudo-random mixes of everything above
    const pool = [...LOOKALIKES, ...PUNCTUATION, ...CONTROL];
    const a = pool[(i * 7) % pool.length] as string;
    const b = pool[(i * 13 + 5) % pool.length] as string;
    corpus.add(`t${i}${a}${b}`);
  }
  return [...corpus];
}
