import type { QueryResultRow } from 'pg';

/*
 * The one way the services reach PostgreSQL outside the ORM's unit of work. One executor type, `Sql`:
 * SQL text with PostgreSQL's own `$1, $2, ...` placeholders, parameters always bound (sent apart from
 * the text, never pasted into it). Where it runs, a pooled connection or a transaction, is the
 * caller's choice and invisible to the code that writes the statements.
 */

/** Runs statements; the only thing repositories and stores see of the database. */
export interface Sql {
  query<T extends QueryResultRow = QueryResultRow>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs `callback` once what this executor wrote is durable: after COMMIT inside a transaction
   * (never, if it rolls back), right away on an autocommitting executor.
   */
  afterCommit(callback: () => void): void;
}

/** A statement to be run later or composed with others. */
export interface Statement {
  text: string;
  params: readonly unknown[];
}

/** Something that can run a transaction: `work` gets an executor bound to it. */
export interface Transactional {
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
}

/** The placeholders `$1 ... $n` of `text` shifted by `offset`, for composing statements into one. */
export const shiftPlaceholders = (text: string, offset: number): string =>
  offset === 0 ? text : text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);

/**
 * Several data-modifying statements as one: `with s0 as (...), s1 as (...) <final>`. PostgreSQL runs
 * every CTE, atomically, in one round trip, whether or not `final` reads them. `final` may use
 * placeholders too; they are numbered after the statements'.
 */
export function withStatements(statements: readonly Statement[], final: Statement): Statement {
  const params: unknown[] = [];
  const ctes = statements.map((s, i) => {
    const text = shiftPlaceholders(s.text, params.length);
    params.push(...s.params);
    return `s${i} as (${text})`;
  });
  const tail = shiftPlaceholders(final.text, params.length);
  params.push(...final.params);
  return { text: statements.length === 0 ? tail : `with ${ctes.join(', ')} ${tail}`, params };
}

/** Collects the after-commit callbacks of a transaction; they run once it committed. */
export class AfterCommit {
  private readonly callbacks: Array<() => void> = [];

  add(callback: () => void): void {
    this.callbacks.push(callback);
  }

  /** Runs them in order; one that throws does not stop the others (the commit happened regardless). */
  run(): void {
    for (const callback of this.callbacks.splice(0)) {
      try {
        callback();
      } catch {
        // A wake-up or a cache invalidation failing must not turn a committed write into an error.
      }
    }
  }
}
