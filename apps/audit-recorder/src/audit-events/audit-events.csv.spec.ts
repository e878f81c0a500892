import { AuditEvent } from '@audit/contracts';
import { auditEventCsvLine, CSV_HEADER, csvChunks, csvField, csvLine } from './audit-events.csv';
import { ExportRow } from './audit-events.sql';

const event = (overrides: Partial<AuditEvent> = {}, message = 'Created Release v0.3'): AuditEvent => ({
  id: '9d5e0b7c-1c2b-4c4e-9a57-1d3c0b2f9a10',
  author_id: 1,
  entity_id: 29,
  entity_type: 'Project',
  details: {
    author_name: 'alice',
    target_id: 7,
    target_type: 'Release',
    target_details: 'New Release',
    custom_message: message,
    ip_address: '203.0.113.7',
    entity_path: 'example-group/example-project',
  },
  ip_address: '203.0.113.7',
  author_name: 'alice',
  entity_path: 'example-group/example-project',
  target_details: 'New Release',
  created_at: '2026-11-21T10:15:30.123Z',
  target_type: 'Release',
  target_id: 7,
  event_type: 'release_created',
  ...overrides,
});

const PREV = 'a1'.repeat(32);
const HASH = 'b2'.repeat(32);
/** The row the export reads: the stored text and the chain fields. */
const row = (e: AuditEvent = event(), seq = 12): ExportRow => ({
  payload: JSON.stringify(e),
  id: e.id,
  cursor_at: e.created_at,
  chain_id: 'domain-events/0',
  chain_seq: String(seq),
  prev_hash: PREV,
  hash: HASH,
});
/** A row's chain columns as written: chain, sequence, hashes, and the stored text quoted (it holds commas and quotes). */
const chainColumns = (e: AuditEvent, seq = 12) =>
  `domain-events/0,${seq},${PREV},${HASH},"${JSON.stringify(e).replace(/"/g, '""')}"`;

async function collect(source: AsyncIterable<string>): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return chunks;
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('csvField (RFC 4180)', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['ünïcødé ✓', 'ünïcødé ✓'],
  ])('writes %j as %j', (input, expected) => {
    expect(csvField(input)).toBe(expected);
  });

  it('writes null and undefined as empty fields and numbers as they are', () => {
    expect([csvField(null), csvField(undefined), csvField(0), csvField(29)]).toEqual(['', '', '0', '29']);
  });
});

describe('csvField (formula injection)', () => {
  it.each([
    ['=HYPERLINK("http://evil.example")', `"'=HYPERLINK(""http://evil.example"")"`],
    ['+1+1', "'+1+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['\r=1', `"'\r=1"`],
    ['=1,2', `"'=1,2"`],
  ])('neutralises %j as %j', (input, expected) => {
    expect(csvField(input)).toBe(expected);
  });

  it.each(['a=1', 'release-1', "it's", ' =1'])(
    'leaves %j alone: only the first character can start a formula',
    (input) => {
      expect(csvField(input)).toBe(input);
    },
  );
});

describe('audit event rows', () => {
  it('has the header of the export, in order: the readable columns, then the chain columns', () => {
    expect(CSV_HEADER).toBe(
      'ID,Author ID,Author Name,Entity ID,Entity Type,Entity Path,Target ID,Target Type,Target Details,Action,IP Address,Created At (UTC),Chain,Chain Sequence,Previous Hash,Hash,Event JSON\r\n',
    );
  });

  it('writes an event with its message as the Action, then its chain fields and its stored text', () => {
    expect(auditEventCsvLine(row())).toBe(
      `9d5e0b7c-1c2b-4c4e-9a57-1d3c0b2f9a10,1,alice,29,Project,example-group/example-project,7,Release,New Release,Created Release v0.3,203.0.113.7,2026-11-21T10:15:30.123Z,${chainColumns(event())}\r\n`,
    );
  });

  it('writes the stored text as it is, not a re-serialisation of the event', () => {
    const stored = { ...row(), payload: JSON.stringify(event()).replace('{', '{ ') };
    expect(auditEventCsvLine(stored)).toContain(`,"{ ""id"":`);
  });

  it('writes a missing target id and IP address as empty fields', () => {
    expect(auditEventCsvLine(row(event({ target_id: null, ip_address: null })))).toContain(
      ',example-group/example-project,,Release,New Release,Created Release v0.3,,2026',
    );
  });

  it('escapes and neutralises user-controlled text', () => {
    const line = auditEventCsvLine(
      row(event({ author_name: '=cmd|calc', target_details: 'a "quoted", name' }, '@evil\nline')),
    );
    expect(line).toContain(`,'=cmd|calc,`);
    expect(line).toContain(',"a ""quoted"", name",');
    expect(line).toContain(`,"'@evil\nline",`);
    // In the stored text the same values are JSON strings: quoted, never at the start of the field.
    expect(line).toContain('""author_name"":""=cmd|calc""');
  });

  it('is one line per row in general', () => {
    expect(csvLine(['a', 1, null])).toBe('a,1,\r\n');
  });
});

describe('csvChunks', () => {
  it('writes the header even when nothing matches', async () => {
    expect(await collect(csvChunks(from([[]])))).toEqual([CSV_HEADER]);
  });

  it('writes every row of every batch once, in order, in bounded chunks', async () => {
    const batches = [0, 1, 2].map((b) => Array.from({ length: 10 }, (_, i) => row(event({ author_id: b * 10 + i }))));
    const chunks = await collect(csvChunks(from(batches), 500));
    expect(chunks.length).toBeGreaterThan(3);
    // A chunk closes at the first row that reaches the size, so it is never larger than size + one row.
    expect(chunks.every((c) => c.length < 500 + auditEventCsvLine(row()).length + 10)).toBe(true);
    const lines = chunks.join('').split('\r\n').filter(Boolean);
    expect(lines[0]).toBe(CSV_HEADER.trimEnd());
    expect(lines.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reads the next batch only when the consumer asks for more', async () => {
    let batchesRead = 0;
    async function* batches() {
      for (let b = 0; b < 5; b++) {
        batchesRead++;
        yield Array.from({ length: 10 }, () => row());
      }
    }
    const chunks = csvChunks(batches(), 100);
    await chunks.next();
    await chunks.return(undefined);
    expect(batchesRead).toBe(1);
  });
});
