import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry } from '@audit/audit-registry';
import { ConflictError, NotFoundError, Principal, ValidationError } from '@audit/platform';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '../crypto/secret-box';
import {
  CreateDestinationInput, CreateHeaderInput, DeliveriesQuery, DeliveryView, DestinationView, HeaderView,
  isNumericId, MAX_DESTINATIONS_PER_GROUP, MAX_HEADERS_PER_DESTINATION,
} from './destination.schemas';
import { DestinationRow, DestinationsRepository } from './destinations.repository';
import { GroupAccess } from './group-access.service';
import { reservedHeaderProblem } from './header-rules';
import { defaultDestinationName, generateSigningSecret, generateVerificationToken } from './secrets';
import { DestinationUrlCheck } from './url-check.service';

/** Group-level streaming destinations: creation, listing, custom headers, delivery log. */
@Injectable()
export class DestinationsService {
  private readonly logger = new Logger(DestinationsService.name);

  constructor(
    private readonly access: GroupAccess,
    private readonly repository: DestinationsRepository,
    private readonly urlCheck: DestinationUrlCheck,
    private readonly secrets: SecretBox,
    @Inject(AUDIT_EVENT_TYPES) private readonly registry: AuditEventTypeRegistry,
  ) {}

  async create(groupIdOrPath: string, input: CreateDestinationInput, principal: Principal): Promise<DestinationView> {
    const group = await this.access.ownedTopLevelGroup(groupIdOrPath, principal);
    const filters = this.checkFilters(input.event_type_filters ?? []);
    const url = await this.urlCheck.check(input.destination_url);
    const verificationToken = generateVerificationToken();
    const created = await this.unique(`a destination named "${input.name}" already exists in this group`, () =>
      this.repository.createWithin(MAX_DESTINATIONS_PER_GROUP, {
        groupId: group.id,
        name: input.name ?? defaultDestinationName(),
        url,
        verificationToken: this.secrets.encrypt(verificationToken),
        signingSecret: this.secrets.encrypt(generateSigningSecret()),
        eventTypeFilters: filters,
      }),
    );
    if (!created) {
      throw new ConflictError(`a top-level group can have at most ${MAX_DESTINATIONS_PER_GROUP} streaming destinations`);
    }
    this.logger.log({ destinationId: created.id, groupId: group.id, userId: principal.userId }, 'streaming destination created');
    return this.view(created);
  }

  async list(groupIdOrPath: string, principal: Principal): Promise<DestinationView[]> {
    const group = await this.access.ownedTopLevelGroup(groupIdOrPath, principal);
    return (await this.repository.listForGroup(group.id)).map((d) => this.view(d));
  }

  async addHeader(groupIdOrPath: string, destinationId: string, input: CreateHeaderInput, principal: Principal): Promise<HeaderView> {
    const destination = await this.destinationOf(groupIdOrPath, destinationId, principal);
    const problem = reservedHeaderProblem(input.key);
    if (problem) throw new ValidationError(`key ${problem}`, [{ field: 'key', message: problem }]);
    const id = await this.unique(`a header named "${input.key}" already exists on this destination`, () =>
      this.repository.addHeaderWithin(MAX_HEADERS_PER_DESTINATION, destination.id, input.key, this.secrets.encrypt(input.value)),
    );
    if (id === null) {
      throw new ConflictError(`a destination can have at most ${MAX_HEADERS_PER_DESTINATION} custom headers`);
    }
    this.logger.log({ destinationId: destination.id, headerId: id, userId: principal.userId }, 'streaming header added');
    return { id, key: input.key, value: input.value };
  }

  async listDeliveries(groupIdOrPath: string, destinationId: string, query: DeliveriesQuery, principal: Principal): Promise<DeliveryView[]> {
    const destination = await this.destinationOf(groupIdOrPath, destinationId, principal);
    return this.repository.listDeliveries(destination.id, query);
  }

  private async destinationOf(groupIdOrPath: string, destinationId: string, principal: Principal): Promise<DestinationRow> {
    const group = await this.access.ownedTopLevelGroup(groupIdOrPath, principal);
    const destination = isNumericId(destinationId) ? await this.repository.findForGroup(group.id, Number(destinationId)) : null;
    if (!destination) throw new NotFoundError('Streaming destination not found');
    return destination;
  }

  private checkFilters(filters: string[]): string[] {
    const unknown = filters.filter((f) => !this.registry.has(f));
    if (unknown.length > 0) {
      const message = `contains unknown audit event types: ${unknown.join(', ')}`;
      throw new ValidationError(`event_type_filters ${message}`, [{ field: 'event_type_filters', message }]);
    }
    return [...new Set(filters)].sort();
  }

  private async unique<T>(conflict: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(conflict);
      throw err;
    }
  }

  private view(d: DestinationRow): DestinationView {
    return {
      id: d.id,
      name: d.name,
      destination_url: d.url,
      verification_token: this.secrets.decrypt(d.verificationToken),
      event_type_filters: d.eventTypeFilters,
      active: d.active,
      headers: d.headers.map((h) => ({ id: h.id, key: h.key, value: this.secrets.decrypt(h.value) })),
      created_at: d.createdAt,
    };
  }
}
