/** One entry of config/audit_events/types/*.yml (developer guide, "Event type definitions"). */
export interface AuditEventTypeDefinition {
  name: string;
  description: string;
  group: string;
  introduced_by_issue: string;
  introduced_by_mr: string;
  milestone: string;
  saved_to_database: boolean;
  streamed: boolean;
}

/** The loaded registry: lookups by type name, and the two filters the consumers apply. */
export class AuditEventTypeRegistry {
  private readonly byName: ReadonlyMap<string, AuditEventTypeDefinition>;

  constructor(definitions: AuditEventTypeDefinition[]) {
    this.byName = new Map(definitions.map((d) => [d.name, d]));
  }

  get names(): string[] {
    return [...this.byName.keys()].sort();
  }

  get(name: string): AuditEventTypeDefinition | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  isSavedToDatabase(name: string): boolean {
    return this.byName.get(name)?.saved_to_database === true;
  }

  isStreamed(name: string): boolean {
    return this.byName.get(name)?.streamed === true;
  }
}

/** Injection token under which a service provides the registry it loaded at boot. */
export const AUDIT_EVENT_TYPES = Symbol('AUDIT_EVENT_TYPES');
