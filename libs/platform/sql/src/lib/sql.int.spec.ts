import { TEST_DATABASE_URL, waitFor } from '@audit/testing';
import { isUniqueViolation } from './errors';
import { SqlPool } from './pool';
import { SqlSession } from './session';

/*
 * The executor against the real PostgreSQL: a transaction commits or rolls back as a whole, its
 * after-commit callbacks run only after COMMIT, parameters are bound (never pasted into the text),
 * session options reach the server, and a session receives the NOTIFYs of its channels.
 */
describe('SqlPool and SqlSession (real PostgreSQL)', () => {
  const table = `sql_spec_${process.pid}_${Date.now().toString(36)}`;
  const pool = new SqlPool({
    name: 'sql-spec',
    connectionString: TEST_DATABASE_URL,
    max: 2,
    sessionOptions: '-c synchronous_commit=off',
  });

  beforeAll(async () => {
    await pool.autocommit.query(`create table ${table} (id int primary key, note text)`);
  });

  afterAll(async () => {
    await pool.autocommit.query(`drop table if exists ${table}`);
    await pool.close();
  });

  it('commits a transaction as a whole and runs its after-commit callbacks after COMMIT', async () => {
    const seenAtCallback: number[] = [];
    await pool.transaction(async (tx) => {
      await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [1, 'a']);
      await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [2, 'b']);
      tx.afterCommit(() => {
        seenAtCallback.push(1);
      });
      expect(seenAtCallback).toEqual([]);
    });
    expect(seenAtCallback).toEqual([1]);
    const rows = await pool.autocommit.query<{ id: number }>(`select id from ${table} order by id`);
    expect(rows.map((r) => r.id)).toEqual([1, 2]);
  });

  it('rolls back everything on an error and never runs the after-commit callbacks', async () => {
    let woken = false;
    const failure = await pool
      .transaction(async (tx) => {
        await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [3, 'c']);
        tx.afterCommit(() => (woken = true));
        await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [1, 'duplicate']);
      })
      .catch((err: unknown) => err);
    expect(isUniqueViolation(failure, `${table}_pkey`)).toBe(true);
    expect(woken).toBe(false);
    expect(await pool.autocommit.query(`select 1 from ${table} where id = 3`)).toEqual([]);
  });

  it('binds parameters: a value that looks like SQL is stored as text', async () => {
    const hostile = `x'); drop table ${table}; --`;
    await pool.autocommit.query(`insert into ${table} (id, note) values ($1, $2)`, [4, hostile]);
    const [row] = await pool.autocommit.query<{ note: string }>(`select note from ${table} where id = $1`, [4]);
    expect(row?.note).toBe(hostile);
  });

  it('applies the session options of the pool', async () => {
    const [row] = await pool.autocommit.query<{ synchronous_commit: string }>('show synchronous_commit');
    expect(row?.synchronous_commit).toBe('off');
  });

  it('delivers the NOTIFYs of the channels a session listens on', async () => {
    const channel = `${table}_wake`;
    const received: string[] = [];
    const session = new SqlSession(
      { name: 'sql-spec-listener', connectionString: TEST_DATABASE_URL, listen: [channel] },
      { onNotification: (c) => received.push(c) },
    );
    await session.open();
    try {
      await pool.transaction(async (tx) => {
        await tx.query('select pg_notify($1, $2)', [channel, '']);
        expect(received).toEqual([]);
      });
      await waitFor('the NOTIFY sent at COMMIT', () => (received.length > 0 ? received : undefined), {
        timeoutMs: 5000,
      });
      expect(received).toEqual([channel]);
    } finally {
      await session.close();
    }
    expect(session.isOpen).toBe(false);
  });
});
