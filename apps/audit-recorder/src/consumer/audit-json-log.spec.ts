import { ConfigError } from '@audit/platform';
import { loadAuditRecorderConfig } from '../config';
import {
  auditLogTarget,
  firstWrittenAt,
  rotatedFileClosedAt,
  rotatedFileName,
  rotationReason,
  utcDay,
  utcStamp,
} from './audit-json-log';

const target = (env: Record<string, string>) => auditLogTarget(loadAuditRecorderConfig(env));

describe('AUDIT_LOG_FILE', () => {
  it('keeps its default file, the same for every instance', () => {
    expect(target({ INSTANCE_NAME: 'audit-recorder-0' })).toEqual({ kind: 'file', path: 'log/audit_json.log' });
  });

  it('replaces {instance} by INSTANCE_NAME, wherever it appears', () => {
    const file = 'log/{instance}/audit_json.{instance}.log';
    expect(target({ AUDIT_LOG_FILE: file, INSTANCE_NAME: 'audit-recorder-1' })).toEqual({
      kind: 'file',
      path: 'log/audit-recorder-1/audit_json.audit-recorder-1.log',
    });
  });

  it('writes to stdout for - and stdout', () => {
    expect(target({ AUDIT_LOG_FILE: '-' })).toEqual({ kind: 'stdout' });
    expect(target({ AUDIT_LOG_FILE: 'stdout' })).toEqual({ kind: 'stdout' });
  });

  it('refuses another placeholder, naming the variable', () => {
    expect(() => loadAuditRecorderConfig({ AUDIT_LOG_FILE: 'log/audit_json.{instanc}.log' })).toThrow(ConfigError);
    expect(() => loadAuditRecorderConfig({ AUDIT_LOG_FILE: 'log/{host}.log' })).toThrow(/AUDIT_LOG_FILE:/);
  });
});

describe('AUDIT_LOG_MAX_BYTES and AUDIT_LOG_ROTATE_DAILY', () => {
  it('default to 100 MiB and daily rotation', () => {
    const config = loadAuditRecorderConfig({});
    expect(config.AUDIT_LOG_MAX_BYTES).toBe(104857600);
    expect(config.AUDIT_LOG_ROTATE_DAILY).toBe(true);
  });

  it('take a size of at least 4096 bytes and the platform booleans', () => {
    const config = loadAuditRecorderConfig({ AUDIT_LOG_MAX_BYTES: '4096', AUDIT_LOG_ROTATE_DAILY: '0' });
    expect(config.AUDIT_LOG_MAX_BYTES).toBe(4096);
    expect(config.AUDIT_LOG_ROTATE_DAILY).toBe(false);
    expect(loadAuditRecorderConfig({ AUDIT_LOG_ROTATE_DAILY: 'false' }).AUDIT_LOG_ROTATE_DAILY).toBe(false);
    expect(loadAuditRecorderConfig({ AUDIT_LOG_ROTATE_DAILY: '1' }).AUDIT_LOG_ROTATE_DAILY).toBe(true);
  });

  it('refuse a smaller or fractional size and a boolean they do not know, naming the variable', () => {
    expect(() => loadAuditRecorderConfig({ AUDIT_LOG_MAX_BYTES: '4095' })).toThrow(/AUDIT_LOG_MAX_BYTES:/);
    expect(() => loadAuditRecorderConfig({ AUDIT_LOG_MAX_BYTES: '5000.5' })).toThrow(/AUDIT_LOG_MAX_BYTES:/);
    expect(() => loadAuditRecorderConfig({ AUDIT_LOG_ROTATE_DAILY: 'yes' })).toThrow(/AUDIT_LOG_ROTATE_DAILY:/);
  });
});

describe('the name of a closed file', () => {
  const at = new Date('2026-11-28T09:05:07.999Z');

  it('is the name without .log, then the UTC closing time to the second', () => {
    expect(utcStamp(at)).toBe('20261128T090507Z');
    expect(rotatedFileName('audit_json.log', at)).toBe('audit_json-20261128T090507Z.log');
    expect(rotatedFileName('audit_json.audit-recorder-1.log', at)).toBe(
      'audit_json.audit-recorder-1-20261128T090507Z.log',
    );
  });

  it('keeps another ending whole and still ends in .log', () => {
    expect(rotatedFileName('audit.jsonl', at)).toBe('audit.jsonl-20261128T090507Z.log');
  });

  it('gets a counter when the second is taken', () => {
    expect(rotatedFileName('audit_json.log', at, 1)).toBe('audit_json-20261128T090507Z-1.log');
    expect(rotatedFileName('audit_json.log', at, 12)).toBe('audit_json-20261128T090507Z-12.log');
  });

  it('is recognised, with its closing time, for this file only', () => {
    const second = new Date('2026-11-28T09:05:07.000Z');
    expect(rotatedFileClosedAt('audit_json.log', 'audit_json-20261128T090507Z.log')).toEqual(second);
    expect(rotatedFileClosedAt('audit_json.log', 'audit_json-20261128T090507Z-3.log')).toEqual(second);
    const one = 'audit_json.audit-recorder-1.log';
    expect(rotatedFileClosedAt(one, 'audit_json.audit-recorder-1-20261128T090507Z.log')).toEqual(second);
    // Another instance's files in a shared folder, the file in use, and names this writer never gives.
    for (const name of [
      'audit_json.audit-recorder-10-20261128T090507Z.log',
      'audit_json.audit-recorder-2-20261128T090507Z.log',
      one,
      'audit_json.audit-recorder-1-20261128T090507Z-0.log',
      'audit_json.audit-recorder-1-20261128T090507Z.log.gz',
      'audit_json.audit-recorder-1-20261128T0905Z.log',
      'audit_json.audit-recorder-1-20261328T090507Z.log',
      'audit_json.audit-recorder-1-20260230T090507Z.log',
      'audit_jsonXaudit-recorder-1-20261128T090507Z.log',
    ])
      expect([name, rotatedFileClosedAt(one, name)]).toEqual([name, null]);
  });
});

describe('when the file in use is closed', () => {
  const limits = { maxBytes: 4096, daily: true };
  const morning = new Date('2026-11-28T08:00:00.000Z');
  const file = (bytes: number, since: Date | null = morning) => ({ bytes, since });

  it('before an append that would take it past the limit, not one that reaches it exactly', () => {
    expect(rotationReason(file(4000), 96, morning, limits)).toBeNull();
    expect(rotationReason(file(4000), 97, morning, limits)).toBe('size');
    expect(rotationReason(file(4096), 1, morning, limits)).toBe('size');
  });

  it('never when empty: an append larger than the limit goes whole into one file', () => {
    expect(rotationReason(file(0, null), 10_000, morning, limits)).toBeNull();
    expect(rotationReason(file(1), 10_000, morning, limits)).toBe('size');
  });

  it('at the first append of another UTC day, whatever the local time zone', () => {
    const lastMs = new Date('2026-11-28T23:59:59.999Z');
    const midnight = new Date('2026-11-29T00:00:00.000Z');
    expect(utcDay(midnight) - utcDay(lastMs)).toBe(1);
    expect(rotationReason(file(10, morning), 10, lastMs, limits)).toBeNull();
    expect(rotationReason(file(10, morning), 10, midnight, limits)).toBe('day');
    expect(rotationReason(file(10, lastMs), 10, midnight, limits)).toBe('day');
    // A clock set back over midnight is another day too.
    expect(rotationReason(file(10, midnight), 10, lastMs, limits)).toBe('day');
  });

  it('not by day when daily rotation is off, still by size', () => {
    const later = new Date('2026-12-03T00:00:00.000Z');
    expect(rotationReason(file(10), 10, later, { ...limits, daily: false })).toBeNull();
    expect(rotationReason(file(4090), 10, later, { ...limits, daily: false })).toBe('size');
  });

  it('after a restart: the day an existing file was begun is its birth time, else its last write', () => {
    const born = Date.parse('2026-11-27T22:00:00Z');
    const written = Date.parse('2026-11-28T01:00:00Z');
    expect(firstWrittenAt({ size: 10, birthtimeMs: born, mtimeMs: written })).toEqual(new Date(born));
    expect(firstWrittenAt({ size: 10, birthtimeMs: 0, mtimeMs: written })).toEqual(new Date(written));
    expect(firstWrittenAt({ size: 10, birthtimeMs: written + 1, mtimeMs: written })).toEqual(new Date(written));
    expect(firstWrittenAt({ size: 0, birthtimeMs: born, mtimeMs: written })).toBeNull();
  });
});
