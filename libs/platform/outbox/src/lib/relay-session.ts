import { QueryResultRow } from 'pg';
import { SqlSession } from '@audit/sql';
import { OUTBOX_CHANNEL } from './outbox';

/**
 * Arbitrary but fixed: the session-level advisory lock whose holder is the one relay that publishes.
 * Advisory locks are per database, so each service's database elects its own leader.
 */
export const RELAY_LOCK_KEY = 7_301_001;

export interface RelaySessionEvents {
  /** An append committed somewhere (NOTIFY on OUTBOX_CHANNEL). */
  onNotify: () => void;
  /** The session died on its own (server restart, terminated backend, network); the lock went with it. */
  onLost: (err: Error, wasLeader: boolean) => void;
}

/**
 * The relay's own PostgreSQL session (an SqlSession, outside the pools): LISTEN and a session-level
 * advisory lock both belong to one long-lived connection. Leadership lasts exactly as long as this
 * session: if it dies, PostgreSQL drops the lock and a standby's next try takes it. Publishing passes
 * run on this session too, so a relay that lost its session can no longer mark rows published.
 */
export class RelaySession {
  private session: SqlSession | null = null;
  private leader = false;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly events: RelaySessionEvents,
    private readonly applicationName = 'outbox-relay',
  ) {}

  get isLeader(): boolean {
    return this.session?.isOpen === true && this.leader;
  }

  /** Connects and LISTENs unless already connected. Throws if PostgreSQL cannot be reached. */
  async open(): Promise<void> {
    if (this.session?.isOpen) return;
    if (this.closed) throw new Error('relay session is closed');
    const session: SqlSession = new SqlSession(
      { name: this.applicationName, connectionString: this.url, listen: [OUTBOX_CHANNEL] },
      { onNotification: () => this.events.onNotify(), onLost: (err) => this.lost(session, err) },
    );
    this.session = session;
    this.leader = false;
    await session.open();
  }

  /** Takes the leader's lock if it is free; true while this session holds it. */
  async tryLead(): Promise<boolean> {
    if (this.isLeader) return true;
    // Session-level lock: not tied to a transaction, held until unlocked or the session ends.
    const rows = await this.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [RELAY_LOCK_KEY]);
    this.leader = rows[0]?.locked === true;
    return this.leader;
  }

  async query<T extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (!this.session?.isOpen) throw new Error('relay session is not connected');
    return this.session.query<T>(sql, params);
  }

  /** Ends the session for good: the lock and the LISTEN go with it. Safe to call at any time. */
  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = null;
    this.leader = false;
    // Ending the session is what releases the lock; an explicit unlock would only race a query
    // still running on it (a pass being aborted).
    await session?.close();
  }

  private lost(session: SqlSession, err: Error): void {
    if (this.session !== session) return; // late events of a session already replaced or closed
    const wasLeader = this.leader;
    this.session = null;
    this.leader = false;
    this.events.onLost(err, wasLeader);
  }
}
