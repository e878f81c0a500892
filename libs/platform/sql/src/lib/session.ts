import { Client, QueryResultRow } from 'pg';
import { Sql } from './sql';

export interface SqlSessionOptions {
  /** application_name of the session. */
  name: string;
  connectionString: string;
  /** Channels to LISTEN on as soon as the session is open. */
  listen?: readonly string[];
  statementTimeoutMs?: number;
}

export interface SqlSessionEvents {
  /** A NOTIFY arrived on one of the channels listened to. */
  onNotification?: (channel: string) => void;
  /** The session died on its own (server restart, terminated backend, network); what it held went with it. */
  onLost?: (err: Error) => void;
}

/**
 * One long-lived connection of its own, outside any pool: for what belongs to a session and must not
 * be handed to whoever borrows a pooled connection next (LISTEN, a session-level advisory lock).
 * Statements autocommit. Reconnecting is the owner's decision: after a loss, `open()` starts a new one.
 */
export class SqlSession implements Sql {
  private client: Client | null = null;
  private closed = false;

  constructor(
    private readonly options: SqlSessionOptions,
    private readonly events: SqlSessionEvents = {},
  ) {}

  get isOpen(): boolean {
    return this.client !== null;
  }

  /** Connects and LISTENs unless already open. Throws if PostgreSQL cannot be reached. */
  async open(): Promise<void> {
    if (this.client) return;
    if (this.closed) throw new Error(`session ${this.options.name} is closed`);
    const client = new Client({
      connectionString: this.options.connectionString,
      application_name: this.options.name,
      connectionTimeoutMillis: 5000,
      // Notices a dead peer on an idle session too.
      keepAlive: true,
      statement_timeout: this.options.statementTimeoutMs ?? 30_000,
    });
    client.on('notification', (message) => this.events.onNotification?.(message.channel));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error(`session ${this.options.name} ended`)));
    try {
      await client.connect();
      for (const channel of this.options.listen ?? []) await client.query(`LISTEN ${channel}`);
      if (this.closed) throw new Error(`session ${this.options.name} closed while connecting`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
  }

  async query<T extends QueryResultRow = QueryResultRow>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    if (!this.client) throw new Error(`session ${this.options.name} is not connected`);
    return (await this.client.query<T>(text, params as unknown[])).rows;
  }

  afterCommit(callback: () => void): void {
    callback();
  }

  /** Ends the session for good; what it held (locks, LISTEN) goes with it. Safe to call at any time. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private lost(client: Client, err: Error): void {
    if (this.client !== client) return; // late events of a session already replaced or closed
    this.client = null;
    void client.end().catch(() => undefined);
    this.events.onLost?.(err);
  }
}
