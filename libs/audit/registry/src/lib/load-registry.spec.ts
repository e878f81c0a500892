import { MAPPED_AUDIT_EVENT_TYPES } from '@audit/audit-mapping';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEventTypeRegistryError, loadAuditEventTypes } from './load-registry';

const TYPES_DIR = join(__dirname, '../../../../../config/audit_events/types');

const dirWith = (file: string, yaml: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'types-'));
  copyFileSync(join(TYPES_DIR, 'type_schema.json'), join(dir, 'type_schema.json'));
  writeFileSync(join(dir, file), yaml);
  return dir;
};
const valid = (name: string, extra = '') =>
  `name: ${name}\ndescription: d\ngroup: govern::compliance\nintroduced_by_issue: "#1"\nintroduced_by_mr: "!1"\nmilestone: "0.1"\n${extra}`;

describe('audit event type registry', () => {
  const registry = loadAuditEventTypes(TYPES_DIR);

  it('defines every type the mapping produces, and maps every type it defines', () => {
    expect(registry.names).toEqual([...MAPPED_AUDIT_EVENT_TYPES].sort());
  });

  it('keeps release_artifact_downloaded out of the database but streams it', () => {
    expect(registry.isSavedToDatabase('release_artifact_downloaded')).toBe(false);
    expect(registry.isStreamed('release_artifact_downloaded')).toBe(true);
    expect(registry.isSavedToDatabase('release_created')).toBe(true);
  });

  it.each([
    ['a missing field', 'x_type.yml', valid('x_type', 'saved_to_database: true\n'), 'streamed'],
    [
      'a name that is not the file name',
      'x_type.yml',
      valid('other_type', 'saved_to_database: true\nstreamed: true\n'),
      'name',
    ],
    [
      'both flags false',
      'x_type.yml',
      valid('x_type', 'saved_to_database: false\nstreamed: false\n'),
      'saved_to_database',
    ],
    ['an unknown field', 'x_type.yml', valid('x_type', 'saved_to_database: true\nstreamed: true\nsaved: 1\n'), 'saved'],
    ['a wrong type', 'x_type.yml', valid('x_type', 'saved_to_database: "yes"\nstreamed: true\n'), 'saved_to_database'],
  ])('refuses %s, naming the file and the field', (_, file, yaml, field) => {
    const dir = dirWith(file, yaml);
    expect(() => loadAuditEventTypes(dir)).toThrow(AuditEventTypeRegistryError);
    expect(() => loadAuditEventTypes(dir)).toThrow(new RegExp(`${file}.*"${field}"`));
  });
});
