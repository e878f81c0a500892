import { Injectable } from '@nestjs/common';

/** In-process wake-up from the consumer (new deliveries committed) to the delivery worker. */
@Injectable()
export class DeliverySignal {
  private listener: (() => void) | null = null;

  onWake(listener: () => void): void {
    this.listener = listener;
  }

  wake(): void {
    this.listener?.();
  }
}
