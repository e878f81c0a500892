import { CommandMetadata } from '@audit/contracts';
import { NotFoundError, ValidationError } from '@audit/platform';
import { Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '../crypto/secret-box';
import { DestinationChanges } from './destination-changes';
import { headerCreated, headerDeleted, headerUpdated } from './destination-events';
import {
  CreateHeaderInput,
  HeaderView,
  isNumericId,
  MAX_HEADERS_PER_DESTINATION,
  UpdateHeaderInput,
} from './destination.schemas';
import { DestinationRow, DestinationsRepository } from './destinations.repository';
import { DestinationsService, refuseDuplicate } from './destinations.service';
import { DestinationOwner } from './group-access.service';
import { reservedHeaderProblem } from './header-rules';

const DUPLICATE_KEY = 'is already used by another header of this destination (keys are case-insensitive)';

/**
 * Custom HTTP headers of a destination (at most 20, docs/contracts.md). Values are encrypted at rest and never
 * logged nor put in an event; each change is an audit event naming the key.
 */
@Injectable()
export class DestinationHeadersService {
  private readonly logger = new Logger(DestinationHeadersService.name);

  constructor(
    private readonly destinations: DestinationsService,
    private readonly repository: DestinationsRepository,
    private readonly changes: DestinationChanges,
    private readonly secrets: SecretBox,
  ) {}

  async add(
    owner: DestinationOwner,
    destinationId: string,
    input: CreateHeaderInput,
    meta: CommandMetadata,
  ): Promise<HeaderView> {
    checkKey(input.key);
    const current = await this.destinations.destinationOf(owner, destinationId);
    const id = await refuseDuplicate('key', DUPLICATE_KEY, () =>
      this.changes.commit(async (tx) => {
        const destination = await this.destinations.lockedIn(tx, owner, current.id);
        if ((await this.repository.countHeaders(tx, destination.id)) >= MAX_HEADERS_PER_DESTINATION) {
          const message = `the limit of ${MAX_HEADERS_PER_DESTINATION} custom headers per destination is reached`;
          throw new ValidationError(message, [{ field: 'key', message }]);
        }
        const headerId = await this.repository.insertHeader(
          tx,
          destination.id,
          input.key,
          this.secrets.encrypt(input.value),
        );
        return {
          result: headerId,
          events: [headerCreated(destination, { id: headerId, key: input.key }, { scope: owner.scope, meta })],
        };
      }),
    );
    this.logger.log({ destinationId: current.id, headerId: id, userId: meta.actor.id }, 'streaming header added');
    return { id, key: input.key, value: input.value };
  }

  async update(
    owner: DestinationOwner,
    destinationId: string,
    headerId: string,
    input: UpdateHeaderInput,
    meta: CommandMetadata,
  ): Promise<HeaderView> {
    if (input.key !== undefined) checkKey(input.key);
    const current = await this.destinations.destinationOf(owner, destinationId);
    headerOf(current, headerId);
    const updated = await refuseDuplicate('key', DUPLICATE_KEY, () =>
      this.changes.commit(async (tx) => {
        const destination = await this.destinations.lockedIn(tx, owner, current.id);
        const before = headerOf(destination, headerId);
        const oldValue = this.secrets.decrypt(before.value);
        const value = input.value ?? oldValue;
        const key = input.key ?? before.key;
        const valueChanged = value !== oldValue;
        await this.repository.updateHeader(
          tx,
          before.id,
          input.key,
          valueChanged ? this.secrets.encrypt(value) : undefined,
        );
        return {
          result: { id: before.id, key, value },
          events: [headerUpdated(destination, before, key, valueChanged, { scope: owner.scope, meta })],
        };
      }),
    );
    this.logger.log(
      { destinationId: current.id, headerId: updated.id, userId: meta.actor.id },
      'streaming header updated',
    );
    return updated;
  }

  async remove(owner: DestinationOwner, destinationId: string, headerId: string, meta: CommandMetadata): Promise<void> {
    const current = await this.destinations.destinationOf(owner, destinationId);
    headerOf(current, headerId);
    await this.changes.commit(async (tx) => {
      const destination = await this.destinations.lockedIn(tx, owner, current.id);
      const header = headerOf(destination, headerId);
      await this.repository.removeHeader(tx, header.id);
      return { result: undefined, events: [headerDeleted(destination, header, { scope: owner.scope, meta })] };
    });
    this.logger.log({ destinationId: current.id, headerId, userId: meta.actor.id }, 'streaming header deleted');
  }
}

/** The platform's own headers and transport headers cannot be set (header-rules.ts). */
function checkKey(key: string): void {
  const problem = reservedHeaderProblem(key);
  if (problem) throw new ValidationError(`key ${problem}`, [{ field: 'key', message: problem }]);
}

function headerOf(destination: DestinationRow, headerId: string): DestinationRow['headers'][number] {
  const header = isNumericId(headerId) ? destination.headers.find((h) => h.id === Number(headerId)) : undefined;
  if (!header) throw new NotFoundError('Streaming header not found');
  return header;
}
