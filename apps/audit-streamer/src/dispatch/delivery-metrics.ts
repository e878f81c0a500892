import { Database } from '@audit/platform';
import { Telemetry } from '@audit/telemetry';
import { Injectable, Logger } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import type { AttemptVerdict } from './backoff';

const STATES = ['active', 'paused', 'deactivated', 'disabled'] as const;

/** What an attempt counts as in `audit_stream_deliveries_total`. */
const OUTCOMES: Record<AttemptVerdict, 'delivered' | 'failed' | 'gave_up'> = {
  delivered: 'delivered',
  retry: 'failed', // retried later, with backoff
  gone: 'gave_up', // 410 Gone: the destination is deactivated, its deliveries are not tried again
};

/**
 * The streamer's delivery figures. Per destination they would be one series per destination (thousands,
 * created by API clients): the labels stay fleet-wide, and where a destination stands is what its
 * delivery log and `GET /destinations` (state, failing_since) answer; docs/operations.md says how to go
 * from an alert to the destination.
 */
@Injectable()
export class DeliveryMetrics {
  private readonly logger = new Logger(DeliveryMetrics.name);
  private readonly attempts: Record<AttemptVerdict, Counter.Internal>;
  private readonly duration: Histogram;

  constructor(telemetry: Telemetry, database: Database) {
    const { metrics } = telemetry;
    const deliveries = metrics.counter({
      name: 'audit_stream_deliveries_total',
      help: 'Delivery attempts by outcome: delivered (2xx), failed (retried later), gave_up (410 Gone: the destination is deactivated).',
      labelNames: ['outcome'],
    });
    this.attempts = {
      delivered: deliveries.labels({ outcome: OUTCOMES.delivered }),
      retry: deliveries.labels({ outcome: OUTCOMES.retry }),
      gone: deliveries.labels({ outcome: OUTCOMES.gone }),
    };
    for (const counter of Object.values(this.attempts)) counter.inc(0); // every outcome's series from the start
    this.duration = metrics.histogram({
      name: 'audit_stream_delivery_duration_seconds',
      help: 'How long a delivery request took, from sending to the end of the answer (or the error).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    const warn = (err: Error) => this.logger.warn({ err: err.message }, 'could not read delivery figures for /metrics');
    // Deliveries still to make to active destinations; a deactivated destination's are not waited for.
    metrics.backlogGauges(
      { name: 'audit_stream_pending_deliveries', help: 'Deliveries to active destinations not yet delivered.' },
      {
        name: 'audit_stream_oldest_pending_age_seconds',
        help: 'How long the oldest delivery to an active destination has waited (0 when none waits).',
      },
      async () => {
        const [row] = await database.autocommit.query<{ n: string; age: number | null }>(
          `select count(*) as n, extract(epoch from clock_timestamp() - min(dl.created_at))::float8 as age
             from deliveries dl join destinations d on d.id = dl.destination_id and d.active
            where dl.status <> 'delivered'`,
        );
        return { count: Number(row.n), ageSeconds: row.age };
      },
      warn,
    );
    metrics.sampledGauge(
      {
        name: 'audit_stream_destinations',
        help: 'Streaming destinations by state: active, paused (failing, backing off before its next probe), deactivated (by the streamer, after failing too long or a 410), disabled (by its owner).',
        labelNames: ['state'],
      },
      async () => {
        const [row] = await database.autocommit.query<Record<(typeof STATES)[number], string>>(
          `select count(*) filter (where d.active and coalesce(h.pause_level, 0) = 0) as active,
                  count(*) filter (where d.active and coalesce(h.pause_level, 0) > 0) as paused,
                  count(*) filter (where not d.active and d.deactivated_at is not null) as deactivated,
                  count(*) filter (where not d.active and d.deactivated_at is null) as disabled
             from destinations d left join destination_health h on h.destination_id = d.id`,
        );
        return STATES.map((state) => ({
          labels: { state },
          value: Number(row[state]),
        }));
      },
      warn,
    );
  }

  /** One attempt, once its answer (or error) is in. */
  attempted(verdict: AttemptVerdict, seconds: number): void {
    this.attempts[verdict].inc();
    this.duration.observe(seconds);
  }
}
