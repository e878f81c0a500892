import Ajv, { ErrorObject } from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { AuditEventTypeDefinition, AuditEventTypeRegistry } from './audit-event-type';

/** Raised at boot when a type definition is invalid; names the file and the field. */
export class AuditEventTypeRegistryError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(`Invalid audit event type definition ${file}: field "${field}" ${detail}`);
    this.name = 'AuditEventTypeRegistryError';
  }
}

export const DEFAULT_AUDIT_EVENT_TYPES_DIR = 'config/audit_events/types';

const describe = (error: ErrorObject): { field: string; detail: string } => {
  if (error.keyword === 'required') {
    return { field: String(error.params['missingProperty']), detail: 'is required' };
  }
  if (error.keyword === 'additionalProperties') {
    return { field: String(error.params['additionalProperty']), detail: 'is not allowed' };
  }
  if (error.keyword === 'not') {
    return { field: 'saved_to_database', detail: 'and "streamed" must not both be false' };
  }
  return { field: error.instancePath.replace(/^\//, '') || '(root)', detail: error.message ?? 'is invalid' };
};

/**
 * Loads and validates every definition in `dir` against `type_schema.json` beside them.
 * Both consumers call this at boot and refuse to start when it throws.
 */
export function loadAuditEventTypes(dir = DEFAULT_AUDIT_EVENT_TYPES_DIR): AuditEventTypeRegistry {
  const root = resolve(dir);
  const schema = JSON.parse(readFileSync(join(root, 'type_schema.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: false, strict: true }).compile(schema);
  const files = readdirSync(root)
    .filter((f) => f.endsWith('.yml'))
    .sort();
  const definitions = files.map((file) => {
    let doc: unknown;
    try {
      doc = parse(readFileSync(join(root, file), 'utf8'));
    } catch (err) {
      throw new AuditEventTypeRegistryError(file, '(file)', `is not valid YAML: ${(err as Error).message}`);
    }
    if (!validate(doc)) {
      const { field, detail } = describe((validate.errors ?? [])[0] as ErrorObject);
      throw new AuditEventTypeRegistryError(file, field, detail);
    }
    const definition = doc as AuditEventTypeDefinition;
    if (definition.name !== basename(file, '.yml')) {
      throw new AuditEventTypeRegistryError(file, 'name', `must equal the file name (got "${definition.name}")`);
    }
    return definition;
  });
  return new AuditEventTypeRegistry(definitions);
}
