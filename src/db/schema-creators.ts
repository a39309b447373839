/** Anything that runs one statement: a client, a pool, the rotating pool. */
type Queryable = { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> };

/**
 * The roles besides its owner that hold CREATE on the schema `public` (`PUBLIC` for grantee 0):
 * whoever may plant objects where others resolve names. Read from the catalog, which any login
 * may read (schema status and apply ask it as the admin, test as the lease's role).
 */
export async function publicSchemaCreators(db: Queryable): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS role
       FROM pg_namespace n CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
      WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner
      ORDER BY 1`,
  );
  return rows.map((r) => String(r.role));
}
