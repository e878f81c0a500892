import { Fixture, JsonSchema } from './endpoints';

/*
 * Valid bodies from a documented JSON schema, and the test's reading of that schema: a value the
 * document itself rules out (too long, wrong pattern, wrong type, out of range) must be refused.
 */
const typeOf = (schema: JsonSchema): string | undefined =>
  (Array.isArray(schema.type) ? schema.type[0] : schema.type) ?? schema.anyOf?.[0]?.type?.toString();

/** A valid value for `field`: the fixture where the field names a thing that must exist, else a plain one. */
export function sampleValue(field: string, schema: JsonSchema, f: Fixture, n: number): unknown {
  const known: Record<string, unknown> = {
    path: `hx-${n}`,
    name: `Name ${n}`,
    title: `milestone-${n}`,
    tag_name: `v${n}.0`,
    description: 'A description',
    milestones: [f.milestone],
    url: `https://example.com/asset-${n}`,
    destination_url: `${f.receiverUrl}/hx-${n}`,
    event_type_filters: ['release_created'],
    key: `X-Hx-${n}`,
    value: 'hx-value',
    since: '2020-01-01T00:00:00Z',
    namespace_id: Number(f.groupId),
    parent_id: Number(f.groupId),
    active: true,
  };
  if (field in known) return known[field];
  const type = typeOf(schema);
  if (type === 'integer' || type === 'number') return 1;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  if (type === 'object') return sampleBody(schema, f, n);
  return 'x';
}

export function sampleBody(schema: JsonSchema, f: Fixture, n: number): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([field, s]) => [field, sampleValue(field, s, f, n)]),
  );
}

const hasNulOrLoneSurrogate = (value: string): boolean =>
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value);

/** True when the documented schema (or the platform's rule: no NUL, no lone surrogate) refuses `value`. */
export function violates(schema: JsonSchema, value: unknown): boolean {
  if (value === null) return !schema.nullable;
  const type = typeOf(schema);
  if (schema.enum && !schema.enum.includes(value)) return true;
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return true;
      return (
        hasNulOrLoneSurrogate(value) ||
        (schema.maxLength !== undefined && value.length > schema.maxLength) ||
        (schema.minLength !== undefined && value.length < schema.minLength) ||
        (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) ||
        (schema.format === 'uri' && !URL.canParse(value))
      );
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return true;
      if (type === 'integer' && !Number.isInteger(value)) return true;
      const min = schema.minimum ?? -Infinity;
      const exclusive =
        schema.exclusiveMinimum === true
          ? value <= min
          : typeof schema.exclusiveMinimum === 'number'
            ? value <= schema.exclusiveMinimum
            : value < min;
      return exclusive || (schema.maximum !== undefined && value > schema.maximum);
    }
    case 'boolean':
      return typeof value !== 'boolean';
    case 'array':
      return (
        !Array.isArray(value) ||
        (schema.maxItems !== undefined && value.length > schema.maxItems) ||
        value.some((v) => schema.items !== undefined && violates(schema.items, v))
      );
    default:
      return false;
  }
}

/** Every string value of the platform's hostile catalogue that must never be stored, wherever it goes. */
export const alwaysRefused = (value: string): boolean => hasNulOrLoneSurrogate(value);
