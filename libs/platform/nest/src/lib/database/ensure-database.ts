import { SqlSession } from '@audit/sql';

/** The URL of database `name` on the server of `serverUrl` (DATABASE_URL names the server). */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates database `name` if it is missing. Safe when several processes race to create it. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<boolean> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name: ${name}`);
  const client = new SqlSession({
    name: 'ensure-database',
    connectionString: databaseUrl(serverUrl, 'postgres'),
    statementTimeoutMs: 0,
  });
  await client.open();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.length > 0) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } catch (err) {
    // 42P04 duplicate_database, 23505 unique_violation: another process created it first.
    if (['42P04', '23505'].includes((err as { code?: string }).code ?? '')) return false;
    throw err;
  } finally {
    await client.close();
  }
}
