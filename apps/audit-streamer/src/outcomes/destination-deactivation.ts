import { Injectable } from '@nestjs/common';
import { DestinationsService } from '../destinations/destinations.service';

/**
 * The one place delivery switches a destination off (410 Gone, or failing for longer than
 * DELIVERY_DEACTIVATE_AFTER_MS). The destinations side owns the change: it flips the flag, keeps
 * the reason, and publishes a StreamingDestinationDeactivated audit event through its outbox.
 */
@Injectable()
export class DestinationDeactivation {
  constructor(private readonly destinations: DestinationsService) {}

  deactivate(destinationId: number, reason: string): Promise<void> {
    return this.destinations.deactivate(destinationId, reason);
  }
}
