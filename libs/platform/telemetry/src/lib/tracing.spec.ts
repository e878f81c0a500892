import { activeTraceIds, isSampled, traceIdOf, Tracing } from './tracing';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('Tracing', () => {
  const on = new Tracing({ serviceName: 'test', instanceName: 'i-1', endpoint: 'http://127.0.0.1:1' });
  const off = new Tracing({ serviceName: 'test', instanceName: 'i-1' });
  afterAll(() => on.shutdown().catch(() => undefined));

  it('is off without an endpoint: no spans, no context, nothing propagated', () => {
    expect(off.enabled).toBe(false);
    const span = off.startSpan('work', {}, off.extract(PARENT));
    expect(span.isRecording()).toBe(false);
    expect(off.traceparent(span)).toBeUndefined();
    expect(off.withSpan(span, () => activeTraceIds())).toEqual({});
  });

  it("continues the caller's trace: a child span of the traceparent it was given", () => {
    const span = on.startSpan('work', {}, on.extract(PARENT));
    const traceparent = on.traceparent(span);
    expect(traceIdOf(traceparent ?? '')).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceparent).not.toContain('b7ad6b7169203331'); // a span of its own
    expect(traceparent).toMatch(/-01$/); // sampled, as its parent was
    span.end();
  });

  it('starts a new trace on a missing or malformed traceparent', () => {
    for (const header of [undefined, 'garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01']) {
      const span = on.startSpan('work', {}, on.extract(header));
      const id = traceIdOf(on.traceparent(span) ?? '');
      expect(id).toMatch(/^[\da-f]{32}$/);
      expect(id).not.toBe('00000000000000000000000000000000');
      span.end();
    }
  });

  it('follows a parent that was not sampled, and says so downstream', () => {
    const span = on.startSpan('work', {}, on.extract(PARENT.replace(/-01$/, '-00')));
    expect(span.isRecording()).toBe(false);
    expect(on.traceparent(span)).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[\da-f]{16}-00$/);
    span.end();
  });

  it('makes the span active inside withSpan: nested work and log lines see its ids', async () => {
    const span = on.startSpan('work', {}, on.extract(PARENT));
    const seen = await on.withSpan(span, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { ids: activeTraceIds(), current: on.traceparent() };
    });
    expect(seen.ids.trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(seen.current).toBe(on.traceparent(span));
    expect(activeTraceIds()).toEqual({});
    span.end();
  });

  it('tells a recorded trace from one that is not by the sampled bit of the flags', () => {
    expect(isSampled(PARENT)).toBe(true);
    expect(isSampled(PARENT.replace(/-01$/, '-00'))).toBe(false);
    expect(isSampled(PARENT.replace(/-01$/, '-0b'))).toBe(true); // other flag bits may be set
    expect(isSampled(PARENT.replace(/-01$/, '-02'))).toBe(false);
  });

  it('reads the trace id of a traceparent, and nothing of anything else', () => {
    expect(traceIdOf(PARENT)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceIdOf('00-xyz-b7ad6b7169203331-01')).toBeUndefined();
  });
});
