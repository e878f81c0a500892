/**
 * Every HTTP endpoint of a running service, read from its OpenAPI document (`/docs-json`), so a route
 * added later is attacked without touching the test. Path parameters come from the path template
 * itself (the document does not list all of them); bodies and queries from the documented schemas.
 */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  enum?: unknown[];
  nullable?: boolean;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

export interface Endpoint {
  service: string;
  baseUrl: string;
  method: string;
  /** OpenAPI template, e.g. /api/v4/projects/{id}/releases/{tag_name}. */
  template: string;
  params: string[];
  body?: JsonSchema;
  query: Array<{ name: string; schema: JsonSchema }>;
}

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  parameters?: Array<{ name: string; in: string; schema?: JsonSchema }>;
}

export async function discoverEndpoints(service: string, baseUrl: string): Promise<Endpoint[]> {
  const res = await fetch(`${baseUrl}/docs-json`);
  if (res.status !== 200) throw new Error(`${service}: /docs-json answered ${res.status}`);
  const doc = (await res.json()) as { paths: Record<string, Record<string, OpenApiOperation>> };
  const endpoints: Endpoint[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      endpoints.push({
        service,
        baseUrl,
        method: method.toUpperCase(),
        template,
        params: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        body: op.requestBody?.content?.['application/json']?.schema,
        query: (op.parameters ?? [])
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema ?? {} })),
      });
    }
  }
  return endpoints;
}

/** The ids of the fixture every valid path points at. */
export interface Fixture {
  groupId: string;
  groupPath: string;
  projectId: string;
  tag: string;
  milestone: string;
  linkId: string;
  auditEventId: string;
  destinationId: string;
  headerId: string;
  deliveryId: string;
  adminDestinationId: string;
  adminHeaderId: string;
  adminDeliveryId: string;
  receiverUrl: string;
}

/** The valid value of path parameter `name` in `template`: the fixture's group, project, release, ... */
export function validParam(template: string, name: string, f: Fixture): string {
  const admin = template.includes('/admin/');
  const before = template.split('/')[template.split('/').indexOf(`{${name}}`) - 1];
  const values: Record<string, string> = {
    id: before === 'groups' ? f.groupId : f.projectId,
    tag_name: f.tag,
    link_id: f.linkId,
    event_id: f.auditEventId,
    destination_id: admin ? f.adminDestinationId : f.destinationId,
    header_id: admin ? f.adminHeaderId : f.headerId,
    delivery_id: admin ? f.adminDeliveryId : f.deliveryId,
  };
  const value = values[name];
  if (value === undefined)
    throw new Error(`no fixture value for path parameter ${name} of ${template}: add one to validParam`);
  return value;
}

export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name]);
}
