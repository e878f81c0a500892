import { Injectable } from '@nestjs/common';
import { Wakeup } from '@audit/platform';

/** In-process wake-up from the consumer (new deliveries committed) to the delivery worker. */
@Injectable()
export class DeliverySignal extends Wakeup {}
