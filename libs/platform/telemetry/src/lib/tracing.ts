import {
  Attributes,
  context,
  Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
  Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';

export { SpanKind, SpanStatusCode };
export type { Attributes, Context, Span };

export interface TracingSettings {
  serviceName: string;
  instanceName: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. Absent: off. */
  endpoint?: string;
  /** OTEL_TRACES_SAMPLER_ARG: the share of new traces recorded; a trace begun elsewhere follows its parent's choice. */
  sampleRatio?: number;
}

/** The span of nothing: what a disabled tracer hands out, so callers never branch on `enabled` to end a span. */
const NOT_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

let contextManagerInstalled = false;

/**
 * W3C Trace Context through the pipeline, with OpenTelemetry: the HTTP request's span, the outbox row
 * (`traceparent` column), the Kafka message (`traceparent` header), the consumers' chunk spans and the
 * outgoing delivery request all belong to one trace.
 *
 * The provider is the application's own, not the process-global one, so that applications sharing a
 * process (tests, benchmarks) keep their settings; only the context manager (AsyncLocalStorage) is
 * global, as it must be for the active span to follow async work (and reach the log lines).
 *
 * Off (no endpoint) it records nothing, propagates nothing and costs one boolean test on hot paths.
 */
export class Tracing {
  readonly enabled: boolean;
  private readonly provider: BasicTracerProvider | null;
  private readonly tracer: Tracer | null;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(settings: TracingSettings) {
    this.enabled = settings.endpoint !== undefined;
    if (!this.enabled) {
      this.provider = null;
      this.tracer = null;
      return;
    }
    installContextManager();
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': settings.serviceName,
        'service.instance.id': settings.instanceName,
      }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio ?? 1) }),
      // Batches of up to 512 spans, every second; a collector that is down costs dropped spans, never blocked work.
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: `${settings.endpoint!.replace(/\/+$/, '')}/v1/traces` }), {
          scheduledDelayMillis: 1_000,
          maxQueueSize: 8_192,
          maxExportBatchSize: 512,
        }),
      ],
    });
    this.tracer = this.provider.getTracer('audit-events-platform');
  }

  /** A span, child of `parent` (default: the active context). */
  startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes } = {}, parent?: Context): Span {
    if (!this.tracer) return NOT_RECORDING;
    return this.tracer.startSpan(name, options, parent ?? context.active());
  }

  /** Runs `work` with `span` active: spans started and lines logged inside belong to it. */
  withSpan<T>(span: Span, work: () => T, parent: Context = context.active()): T {
    if (!this.tracer) return work();
    return context.with(trace.setSpan(parent, span), work);
  }

  /** The context a `traceparent` header (and its `tracestate`) names; the root context when absent or malformed. */
  extract(traceparent: string | undefined, tracestate?: string): Context {
    if (!this.tracer || !traceparent) return ROOT_CONTEXT;
    return this.propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, defaultTextMapGetter);
  }

  /** The `traceparent` of `span` (default: the active span), or undefined when there is none or tracing is off. */
  traceparent(span?: Span): string | undefined {
    if (!this.tracer) return undefined;
    if (span) {
      // Formatted directly (version 00): the propagator's inject builds a context and a carrier per call.
      const { traceId, spanId, traceFlags } = span.spanContext();
      return trace.isSpanContextValid(span.spanContext())
        ? `00-${traceId}-${spanId}-${traceFlags & 1 ? '01' : '00'}`
        : undefined;
    }
    const ctx = context.active();
    const carrier: Record<string, string> = {};
    this.propagator.inject(ctx, carrier, defaultTextMapSetter);
    return carrier['traceparent'];
  }

  /** Sends the spans still buffered and stops exporting (graceful shutdown). */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }

  /** Sends the spans buffered so far (tests, and before a process exits). */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }
}

/** The trace id and span id of the active span, for log lines; empty outside any span. */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  if (!contextManagerInstalled) return {};
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Whether a `traceparent` says its trace is recorded (the sampled bit of its flags). Work for a trace that is
 * not recorded needs no span of its own: passing its `traceparent` on as it came keeps the trace whole for
 * whoever records it downstream, at the cost of a string comparison (the hot paths handle thousands a second).
 */
export const isSampled = (traceparent: string): boolean => (Number.parseInt(traceparent.slice(-2), 16) & 1) === 1;

/** The trace id a `traceparent` value carries (version 00: `00-<trace id>-<span id>-<flags>`). */
export const traceIdOf = (traceparent: string): string | undefined =>
  /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent)?.[1];

function installContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}
