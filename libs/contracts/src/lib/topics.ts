/** Kafka names every service agrees on (docs/contracts.md, "Kafka"). */
export const DOMAIN_EVENTS_TOPIC = 'domain-events';
export const dlqTopicFor = (topic: string): string => `${topic}.dlq`;

/** Message key: the scope's entity, so the events of one project (or group) keep their order. */
export const messageKeyFor = (scope: { entity_type: string; entity_id: number }): string =>
  `${scope.entity_type}:${scope.entity_id}`;

/** Headers put on a dead-lettered message next to the original bytes. */
export const DLQ_HEADERS = {
  consumer: 'x-dlq-consumer',
  reason: 'x-dlq-reason',
  error: 'x-dlq-error',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  failedAt: 'x-dlq-failed-at',
} as const;
