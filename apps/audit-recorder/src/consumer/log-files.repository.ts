import { Injectable } from '@nestjs/common';
import { Database } from '@audit/platform';

/** A JSON log file closed by rotation, as this instance measured it after the rename. */
export interface ClosedLogFile {
  instance: string;
  /** The rotated file's base name (no folder: folders differ between hosts, names do not). */
  file: string;
  bytes: number;
  /** SHA-256 of the file's bytes, lowercase hex. */
  sha256: string;
  closedAt: Date;
}

/**
 * audit_log_files: the closed JSON log files waiting for a signed checkpoint. The recorder only inserts;
 * the checkpointer picks the rows whose checkpoint_sequence is null and sets it.
 */
@Injectable()
export class LogFilesRepository {
  constructor(private readonly database: Database) {}

  /** Which of `files` (base names) this instance has recorded already. */
  async recorded(instance: string, files: string[]): Promise<Set<string>> {
    if (files.length === 0) return new Set();
    const rows = await this.database.autocommit.query<{ file: string }>(
      'select file from audit_log_files where instance = $1 and file = any($2::text[])',
      [instance, files],
    );
    return new Set(rows.map((r) => r.file));
  }

  /**
   * Records a closed file; false when a row for it existed already. `on conflict do nothing`: a file recorded,
   * then found again by the sweep after a crash, keeps its first row (and its checkpoint_sequence).
   */
  async record(file: ClosedLogFile): Promise<boolean> {
    const rows = await this.database.autocommit.query(
      `insert into audit_log_files (instance, file, bytes, sha256, closed_at) values ($1, $2, $3, $4, $5)
       on conflict do nothing returning file`,
      [file.instance, file.file, file.bytes, file.sha256, file.closedAt.toISOString()],
    );
    return rows.length > 0;
  }
}
