import { ConfigError } from '@audit/platform';
import { loadAuditRecorderConfig } from '../config';
import { auditLogTarget } from './audit-json-log';

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
