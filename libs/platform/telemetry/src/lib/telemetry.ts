import { z } from 'zod';
import { Metrics } from './metrics';
import { Tracing } from './tracing';

const otlpEndpoint = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http:// or https:// URL')
  .refine((v) => !URL.canParse(v) || (!new URL(v).search && !new URL(v).hash), 'must have no query or fragment');

/** The variables of metrics and tracing, part of every service's configuration. */
export const telemetryConfigShape = {
  /** `GET /metrics` (Prometheus text format) on the HTTP port. */
  METRICS_ENABLED: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** The OpenTelemetry collector (OTLP/HTTP) that receives the spans; tracing is off without it. */
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint.optional(),
  /**
   * The share (0 to 1) of traces begun here that are recorded; a trace begun upstream follows its parent. 0.1 by
   * default: every recorded write costs spans in each consumer and per delivery (bench/observability.bench.ts).
   */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(0.1),
};

export interface TelemetryConfig {
  METRICS_ENABLED: boolean;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_TRACES_SAMPLER_ARG: number;
  INSTANCE_NAME: string;
}

/** What a service measures and traces: one per application, provided to every module by the platform. */
export class Telemetry {
  constructor(
    readonly metrics: Metrics,
    readonly tracing: Tracing,
  ) {}

  static fromConfig(serviceName: string, config: TelemetryConfig): Telemetry {
    return new Telemetry(
      new Metrics(config.METRICS_ENABLED),
      new Tracing({
        serviceName,
        instanceName: config.INSTANCE_NAME,
        endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
        sampleRatio: config.OTEL_TRACES_SAMPLER_ARG,
      }),
    );
  }

  /** Neither exposed nor traced: for parts built outside an application (tests of one class). */
  static disabled(): Telemetry {
    return new Telemetry(new Metrics(false), new Tracing({ serviceName: 'none', instanceName: 'none' }));
  }
}
