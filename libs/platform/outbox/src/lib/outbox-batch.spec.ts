import { OutboxRow, takeBatch } from './outbox-batch';

const row = (id: number, text: string): OutboxRow => ({
  id: String(id),
  topic: 't',
  message_key: 'Project:1',
  payload: { text },
  traceparent: null,
  age_ms: '0',
});

describe('takeBatch', () => {
  it("sends a row's trace context as the message's traceparent header, and no header without one", () => {
    const traced = { ...row(1, 'a'), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const batch = takeBatch([traced, row(2, 'b')]);
    expect(batch?.messages[0].headers).toEqual({ traceparent: traced.traceparent });
    expect(batch?.messages[1]).not.toHaveProperty('headers');
  });

  it('takes rows oldest first while they fit, and stops at the first that does not', () => {
    const rows = [row(1, 'a'.repeat(100)), row(2, 'b'.repeat(100)), row(3, 'c'), row(4, 'd')];
    const { ids, messages, more } = takeBatch(rows, 250) ?? { ids: [], messages: [], more: false };
    expect(ids).toEqual(['1', '2']);
    expect(messages.map((m) => JSON.parse(m.value))).toEqual([{ text: 'a'.repeat(100) }, { text: 'b'.repeat(100) }]);
    expect(messages[0]).toMatchObject({ topic: 't', key: 'Project:1' });
    expect(more).toBe(true);
  });

  it('sends a row larger than the limit alone rather than skipping it', () => {
    expect(takeBatch([row(7, 'x'.repeat(1000)), row(8, 'y')], 100)?.ids).toEqual(['7']);
  });

  it('takes everything when it fits, and says whether rows may be left', () => {
    expect(takeBatch([row(1, 'a'), row(2, 'b')])).toMatchObject({ ids: ['1', '2'], more: false });
    expect(takeBatch([row(1, 'a'), row(2, 'b')], undefined, 2)).toMatchObject({ ids: ['1', '2'], more: true });
    expect(takeBatch([])).toBeNull();
  });
});
