import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, stdoutDestination } from '@audit/platform';
import { once } from 'node:events';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecorderConfig } from '../config';

/** Where the JSON log goes: a file of this instance's own, or stdout (a container's log collector). */
export type AuditLogTarget = { kind: 'stdout' } | { kind: 'file'; path: string };

/**
 * AUDIT_LOG_FILE resolved for one instance. Two recorders appending to one file would interleave
 * their lines (each serialises only its own appends), hence `{instance}`.
 */
export function auditLogTarget(config: Pick<AuditRecorderConfig, 'AUDIT_LOG_FILE' | 'INSTANCE_NAME'>): AuditLogTarget {
  const file = config.AUDIT_LOG_FILE;
  if (file === '-' || file === 'stdout') return { kind: 'stdout' };
  return { kind: 'file', path: file.replaceAll('{instance}', config.INSTANCE_NAME) };
}

/** The audit_json.log of the developer guide: one JSON line per stored audit event. */
@Injectable()
export class AuditJsonLog implements OnModuleInit {
  private readonly target: AuditLogTarget;
  private ready: Promise<unknown> | null = null;
  /** The previous append, settled or not: appends run one after the other. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(@Inject(APP_CONFIG) config: AuditRecorderConfig) {
    this.target = auditLogTarget(config);
  }

  onModuleInit(): void {
    new Logger(AuditJsonLog.name).log(`audit JSON log: ${this.target.kind === 'stdout' ? 'stdout' : this.target.path}`);
  }

  /**
   * Appends one line per JSON text (`JSON.stringify` of an audit event). Serialised, because
   * partitions are consumed concurrently and appendFile writes more than 512 KiB in several
   * write() calls, so two concurrent appends could interleave in the middle of a line.
   */
  append(jsonTexts: string[]): Promise<void> {
    if (jsonTexts.length === 0) return Promise.resolve();
    const text = `${jsonTexts.join('\n')}\n`;
    const appended = this.last.catch(() => undefined).then(() => this.write(text));
    this.last = appended;
    return appended;
  }

  private async write(text: string): Promise<void> {
    if (this.target.kind === 'stdout') return writeStdout(text);
    const path = this.target.path;
    this.ready ??= mkdir(dirname(path), { recursive: true });
    await this.ready;
    await appendFile(path, text, 'utf8');
  }
}

/**
 * Through the writer every log line of the process goes through, so audit lines and log lines never
 * cut into each other; a collector tells them apart by `event_type` (audit events) or `level` (logs).
 */
async function writeStdout(text: string): Promise<void> {
  const out = stdoutDestination();
  if (!out.write(text)) await once(out, 'drain');
}
