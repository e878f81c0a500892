import { Inject, Injectable } from '@nestjs/common';
import { AuditEvent } from '@audit/contracts';
import { APP_CONFIG } from '@audit/platform';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditRecorderConfig } from '../app/config';

/** The audit_json.log of the developer guide: one JSON line per stored audit event. */
@Injectable()
export class AuditJsonLog {
  private ready: Promise<unknown> | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AuditRecorderConfig) {}

  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.ready ??= mkdir(dirname(this.config.AUDIT_LOG_FILE), { recursive: true });
    await this.ready;
    await appendFile(this.config.AUDIT_LOG_FILE, events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
  }
}
