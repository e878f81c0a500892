/*
 * GitLab global ids (`gid://gitlab/<Model>/<id>`), the id form of the documented API. Only the models this API
 * serves; a gid of another model, or not a gid at all, names nothing here.
 */
export const GID_MODELS = {
  destination: 'AuditEvents::ExternalAuditEventDestination',
  header: 'AuditEvents::Streaming::Header',
  group: 'Group',
} as const;
export type GidModel = keyof typeof GID_MODELS;

const GID = /^gid:\/\/gitlab\/([A-Za-z][A-Za-z0-9]*(?:::[A-Za-z][A-Za-z0-9]*)*)\/(\d{1,15})$/;

export function toGlobalId(model: GidModel, id: number): string {
  return `gid://gitlab/${GID_MODELS[model]}/${id}`;
}

/** The numeric id of a gid of `model`, or null when `value` is malformed or names another model. */
export function parseGlobalId(value: unknown, model: GidModel): number | null {
  if (typeof value !== 'string') return null;
  const match = GID.exec(value);
  if (!match || match[1] !== GID_MODELS[model]) return null;
  const id = Number(match[2]);
  return id > 0 ? id : null;
}
