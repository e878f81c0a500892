import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@audit/platform';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecorderConfig } from '../config';

/** The audit_json.log of the developer guide: one JSON line per stored audit event. */
@Injectable()
export class AuditJsonLog {
  private ready: Promise<unknown> | null = null;
  /** The previous append, settled or not: appends run one after the other. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(@Inject(APP_CONFIG) private readonly config: AuditRecorderConfig) {}

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
    this.ready ??= mkdir(dirname(this.config.AUDIT_LOG_FILE), { recursive: true });
    await this.ready;
    await appendFile(this.config.AUDIT_LOG_FILE, text, 'utf8');
  }
}
