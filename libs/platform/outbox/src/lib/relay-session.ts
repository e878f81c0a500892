import { Client, QueryResultRow } from 'pg';
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
 * The relay's own PostgreSQL session, outside the ORM's pool: LISTEN and a session-level advisory
 * lock both belong to one long-lived connection, and a pooled one would hand them to whoever
 * borrows it next. Leadership lasts exactly as long as this session: if it dies, PostgreSQL drops
 * the lock and a standby's next try takes it. Publishing passes run on this session too, so a relay
 * that lost its session can no longer mark rows published.
 */
export class RelaySession {
  private client: Client | null = null;
  private leader = false;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly events: RelaySessionEvents,
    private readonly applicationName = 'outbox-relay',
  ) {}

  get isLeader(): boolean {
    return this.client !== null && this.leader;
  }

  /** Connects and LISTENs unless already connected. Throws if PostgreSQL cannot be reached. */
  async open(): Promise<void> {
    if (this.client) return;
    if (this.closed) throw new Error('relay session is closed');
    const client = new Client({
      connectionString: this.url,
      application_name: this.applicationName,
      connectionTimeoutMillis: 5000,
      // Notices a dead peer on an idle session too, so a standby does not wait for a lock that is gone.
      keepAlive: true,
      statement_timeout: 30_000,
    });
    client.on('notification', () => this.events.onNotify());
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('relay session ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (this.closed) throw new Error('relay session closed while connecting');
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
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
    if (!this.client) throw new Error('relay session is not connected');
    return (await this.client.query<T>(sql, params)).rows;
  }

  /** Ends the session for good: the lock and the LISTEN go with it. Safe to call at any time. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    this.leader = false;
    // Ending the session is what releases the lock; an explicit unlock would only race a query
    // still running on it (a pass being aborted).
    await client?.end().catch(() => undefined);
  }

  private lost(client: Client, err: Error): void {
    if (this.client !== client) return; // late events of a session already replaced or closed
    const wasLeader = this.leader;
    this.client = null;
    this.leader = false;
    void client.end().catch(() => undefined);
    this.events.onLost(err, wasLeader);
  }
}
