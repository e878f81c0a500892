import { Controller, Get, Res } from '@nestjs/common';
import { HealthIndicatorResult, MikroOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { KafkaAdminService } from '@audit/kafka';
import { Public } from '../auth/auth.guard';

type Indicator = HealthIndicatorResult[string];

/** The body of `/ready`, in Terminus's shape: what gates readiness in `info`/`error`, everything in `details`. */
export interface Readiness {
  status: 'ok' | 'error';
  info: Record<string, Indicator>;
  error: Record<string, Indicator>;
  details: Record<string, Indicator>;
}

@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly database: MikroOrmHealthIndicator,
    private readonly kafka: KafkaAdminService,
  ) {}

  /** Liveness: the process answers. */
  @Get('health')
  alive(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * Readiness: whether this replica can serve its HTTP API, which needs PostgreSQL and never Kafka
   * (writes go to the outbox; queries, exports, destinations and the delivery log read the database).
   * Kafka is reported, not gated on: a Kafka outage would otherwise take every replica out of the load
   * balancer while each of them could still serve. 503 when the database does not answer.
   */
  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<Readiness> {
    const [database, kafka] = await Promise.all([
      this.database.pingCheck('database', { timeout: 2000 }),
      this.kafkaStatus(),
    ]);
    const databaseUp = database['database'].status === 'up';
    res.status(databaseUp ? 200 : 503);
    return {
      status: databaseUp ? 'ok' : 'error',
      info: databaseUp ? database : {},
      error: databaseUp ? {} : database,
      details: { ...database, kafka },
    };
  }

  private async kafkaStatus(): Promise<Indicator> {
    try {
      return { status: 'up', ...(await this.kafka.ping()) };
    } catch (err) {
      return { status: 'down', message: (err as Error).message };
    }
  }
}
