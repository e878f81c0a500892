import { contentMatches, emptyHead, linkEvents, parseJsonlLine } from '@audit/audit-chain';
import { auditEventJsonLine, jsonlChunks } from './audit-events.jsonl';
import { ExportRow } from './audit-events.sql';

/** Stored rows of one chain, linked as the recorder links them. */
function stored(texts: string[]): ExportRow[] {
  const { links } = linkEvents(emptyHead('domain-events/3'), texts);
  return links.map((link, i) => ({
    payload: texts[i],
    id: `e${i}`,
    cursor_at: '2026-11-21T10:15:30.123000Z',
    chain_id: 'domain-events/3',
    chain_seq: String(link.seq),
    prev_hash: link.prevHash.toString('hex'),
    hash: link.hash.toString('hex'),
  }));
}

async function collect(source: AsyncIterable<string>): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return chunks;
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('JSONL export lines', () => {
  it('writes the stored text with the chain member appended, from which the verifier recovers what was hashed', () => {
    const text =
      '{"id":"e0","details":{"custom_message":"Created, \\"quoted\\"\\nover lines"},"event_type":"release_created"}';
    const [row] = stored([text]);
    const line = auditEventJsonLine(row);
    expect(line).toBe(
      `${text.slice(0, -1)},"audit_chain":{"chain":"domain-events/3","seq":1,"prev_hash":"${row.prev_hash}","hash":"${row.hash}"}}\n`,
    );
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const parsed = parseJsonlLine(line.trimEnd());
    expect(parsed.row).toEqual({
      id: 'e0',
      chain: 'domain-events/3',
      seq: 1,
      prevHash: row.prev_hash,
      hash: row.hash,
      text,
    });
    expect(contentMatches(parsed.row)).toBe(true);
  });

  it('writes every row of every batch once, in order, in bounded chunks, and nothing for an empty export', async () => {
    const rows = stored(Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `e${i}`, n: i })));
    const chunks = await collect(jsonlChunks(from([rows.slice(0, 10), rows.slice(10, 20), rows.slice(20)]), 400));
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.length < 400 + auditEventJsonLine(rows[29]).length)).toBe(true);
    const lines = chunks.join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => parseJsonlLine(l).row.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await collect(jsonlChunks(from([[]])))).toEqual([]);
  });

  it('reads the next batch only when the consumer asks for more', async () => {
    let batchesRead = 0;
    const rows = stored(Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `e${i}` })));
    async function* batches() {
      for (let b = 0; b < 5; b++) {
        batchesRead++;
        yield rows;
      }
    }
    const chunks = jsonlChunks(batches(), 100);
    await chunks.next();
    await chunks.return(undefined);
    expect(batchesRead).toBe(1);
  });
});
