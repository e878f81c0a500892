import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { toNumber } from '../app/sql';

/**
 * Which group a destination or header belongs to. GraphQL names a destination or header by its global
 * id alone, while the REST routes (and so DestinationsService) start from the group; this finds the
 * group, so the request then goes through GroupAccess and the services exactly like a REST one.
 * Read-only. Belongs in DestinationsRepository (ownerOfDestination / ownerOfHeader); here until it is.
 */
@Injectable()
export class DestinationLocator {
  constructor(private readonly em: EntityManager) {}

  /** The group id of a group-level destination; null for an unknown or instance-level one. */
  async groupOfDestination(destinationId: number): Promise<number | null> {
    const rows = await this.em.fork().execute<Array<{ group_id: unknown }>>(
      `select group_id from destinations where id = ? and group_id is not null`,
      [destinationId],
    );
    return rows[0] ? toNumber(rows[0].group_id) : null;
  }

  /** The destination and group of a header of a group-level destination; null when unknown. */
  async ownerOfHeader(headerId: number): Promise<{ destinationId: number; groupId: number } | null> {
    const rows = await this.em.fork().execute<Array<{ destination_id: unknown; group_id: unknown }>>(
      `select h.destination_id, d.group_id
         from destination_headers h join destinations d on d.id = h.destination_id
        where h.id = ? and d.group_id is not null`,
      [headerId],
    );
    return rows[0] ? { destinationId: toNumber(rows[0].destination_id), groupId: toNumber(rows[0].group_id) } : null;
  }
}
