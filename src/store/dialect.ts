/** The two supported database dialects. Everything dialect-specific lives in `src/store/`. */
export type DialectName = 'sqlite' | 'postgres';

/** Column types that differ between the dialects. */
export function columnTypes(dialect: DialectName) {
  return {
    blob: dialect === 'postgres' ? ('bytea' as const) : ('blob' as const),
  };
}
