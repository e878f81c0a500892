import { APP_CONFIG } from '@audit/platform';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { DeliveryLogRepository } from './delivery-log.repository';

const PRUNE_BATCH = 5_000;

/**
 * Deletes delivered records (and their attempt log) older than DELIVERY_RETENTION_MS, every
 * DELIVERY_PRUNE_INTERVAL_MS, in batches so no single statement holds many locks. Failed and
 * pending deliveries are never pruned: they are still owed to their destination.
 */
@Injectable()
export class DeliveryPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryPruner.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly log: DeliveryLogRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.pruneOnce(), this.config.DELIVERY_PRUNE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns how many deliveries it deleted. Overlapping calls share the running pass. */
  pruneOnce(): Promise<number> {
    this.running ??= this.prune().finally(() => (this.running = null));
    return this.running;
  }

  private async prune(): Promise<number> {
    let total = 0;
    try {
      let deleted: number;
      do {
        deleted = await this.log.pruneDelivered(this.config.DELIVERY_RETENTION_MS, PRUNE_BATCH);
        total += deleted;
      } while (deleted === PRUNE_BATCH);
      if (total > 0) this.logger.log({ deleted: total }, 'pruned delivered deliveries');
    } catch (err) {
      this.logger.error({ err }, 'pruning deliveries failed');
    }
    return total;
  }
}
