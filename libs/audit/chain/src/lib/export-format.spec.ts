import { Readable } from 'node:stream';
import { emptyHead, linkEvents } from './chain-hash';
import {
  CHAIN_CSV_COLUMNS,
  ChainFields,
  checkpointOf,
  contentMatches,
  ExportedEvent,
  ExportFormatError,
  jsonlLine,
  parseJsonlLine,
  readCsvExport,
  readJsonlExport,
  verifiedRowOf,
} from './export-format';

const event = {
  id: '9d5e0b7c-1c2b-4c4e-9a57-1d3c0b2f9a10',
  author_id: 1,
  entity_id: 29,
  entity_type: 'Project',
  details: { custom_message: 'Said "hi", then ,"audit_chain":{ in a message', ip_address: '203.0.113.7' },
  created_at: '2026-11-21T10:15:30.123Z',
  event_type: 'release_created',
};
const text = JSON.stringify(event);
const [link] = linkEvents(emptyHead('domain-events/0'), [text]).links;
const chain: ChainFields = {
  chain: 'domain-events/0',
  seq: link.seq,
  prevHash: link.prevHash.toString('hex'),
  hash: link.hash.toString('hex'),
};

async function collect(source: AsyncIterable<ExportedEvent>): Promise<ExportedEvent[]> {
  const events: ExportedEvent[] = [];
  for await (const e of source) events.push(e);
  return events;
}

describe('JSONL lines', () => {
  it('appends the chain member before the final brace, and reads the stored text back exactly', () => {
    const line = jsonlLine(text, chain);
    expect(line).toBe(
      `${text.slice(0, -1)},"audit_chain":{"chain":"domain-events/0","seq":1,"prev_hash":"${chain.prevHash}","hash":"${chain.hash}"}}`,
    );
    const parsed = parseJsonlLine(line);
    expect(parsed).toEqual({ row: { id: event.id, ...chain, text }, event });
    expect(contentMatches(parsed.row)).toBe(true);
    expect(verifiedRowOf(parsed.row)).toEqual({ id: event.id, ...chain, contentOk: true });
  });

  it('gives the same text to a reader that parses, deletes the member and re-serialises', () => {
    const parsed = JSON.parse(jsonlLine(text, chain)) as Record<string, unknown>;
    delete parsed['audit_chain'];
    expect(JSON.stringify(parsed)).toBe(text);
  });

  it('keeps a stored text that is not JSON.stringify-shaped exactly, by stripping the member as text', () => {
    const spaced = '{"id" : "e1", "n" : 1}';
    const parsed = parseJsonlLine(jsonlLine(spaced, chain));
    expect(parsed.row.text).toBe(spaced);
    expect(parsed.event).toEqual({ id: 'e1', n: 1 });
  });

  it('reads a line another tool re-serialised (member moved) by parsing it', () => {
    const moved = JSON.stringify({
      audit_chain: { chain: chain.chain, seq: 1, prev_hash: chain.prevHash.toUpperCase(), hash: chain.hash },
      ...event,
    });
    const parsed = parseJsonlLine(moved);
    expect(parsed.row).toEqual({ id: event.id, ...chain, text });
    expect(contentMatches(parsed.row)).toBe(true);
  });

  it('keeps a line whose stored text was edited into invalid JSON as a row, which then fails its hash', () => {
    const line = jsonlLine(text, chain).replace('"entity_id":29,', '"entity_id":29,,');
    const parsed = parseJsonlLine(line, 7);
    expect([parsed.row.id, parsed.event]).toEqual([event.id, null]);
    expect(contentMatches(parsed.row)).toBe(false);
  });

  it('notices an edited content', () => {
    const parsed = parseJsonlLine(jsonlLine(text, chain).replace('"entity_id":29', '"entity_id":30'));
    expect(contentMatches(parsed.row)).toBe(false);
  });

  it.each([
    ['text that is not JSON', 'not json', /line 3: is not a JSON object/],
    ['JSON that is not an object', '[1,2]', /line 3: is not a JSON object/],
    ['an event without chain fields', text, /line 3: has no "audit_chain" member/],
    [
      'position 0',
      JSON.stringify({ ...event, audit_chain: { chain: 'c', seq: 0, prev_hash: chain.prevHash, hash: chain.hash } }),
      /line 3: "audit_chain": seq must be a positive integer/,
    ],
    [
      'a short hash',
      JSON.stringify({ ...event, audit_chain: { chain: 'c', seq: 1, prev_hash: 'abc', hash: chain.hash } }),
      /prev_hash must be 64 hex digits/,
    ],
  ])('refuses %s', (_, line, message) => {
    expect(() => parseJsonlLine(line, 3)).toThrow(ExportFormatError);
    expect(() => parseJsonlLine(line, 3)).toThrow(message);
  });

  it('refuses to write a text that is not an object', () => {
    expect(() => jsonlLine('[1]', chain)).toThrow(/not an object/);
    expect(parseJsonlLine(jsonlLine('{}', chain)).row.text).toBe('{}');
  });

  it('reads a stream of lines, CRLF or LF, skipping blank ones', async () => {
    const other = { ...event, id: 'e2' };
    const source = Readable.from([
      `${jsonlLine(text, chain)}\r\n\n`,
      jsonlLine(JSON.stringify(other), { ...chain, seq: 2 }).slice(0, 40),
      `${jsonlLine(JSON.stringify(other), { ...chain, seq: 2 }).slice(40)}\n`,
    ]);
    const events = await collect(readJsonlExport(source));
    expect(events.map((e) => [e.row.id, e.row.seq])).toEqual([
      [event.id, 1],
      ['e2', 2],
    ]);
  });

  it('names the line of a bad record in a stream', async () => {
    const source = Readable.from([`${jsonlLine(text, chain)}\n`, '\n', 'garbage\n']);
    await expect(collect(readJsonlExport(source))).rejects.toThrow('line 3: is not a JSON object');
  });
});

/** RFC 4180 field, as the recorder's export writes it (quotes doubled). */
const field = (value: string | number) =>
  typeof value === 'string' && /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : String(value);
const csvOf = (rows: Array<Array<string | number>>) => rows.map((r) => `${r.map(field).join(',')}\r\n`).join('');
const HEADER = ['ID', 'Action', ...CHAIN_CSV_COLUMNS];

describe('CSV exports', () => {
  it('reads the chain columns and the stored text back, whatever comes before them', async () => {
    const csv = csvOf([
      HEADER,
      [event.id, 'Created, "quoted"\nover two lines', chain.chain, chain.seq, chain.prevHash, chain.hash, text],
      ['e2', 'x', "'-topic/3", 4, chain.prevHash, chain.hash, '{"id":"e2"}'],
    ]);
    const events = await collect(readCsvExport(Readable.from([csv.slice(0, 50), csv.slice(50)])));
    expect(events[0]).toEqual({ row: { id: event.id, ...chain, text }, event });
    expect(contentMatches(events[0].row)).toBe(true);
    // A chain name a spreadsheet would take for a formula is written neutralised; the reader takes the `'` off.
    expect(events[1].row).toMatchObject({ id: 'e2', chain: '-topic/3', seq: 4 });
  });

  it('takes the id from the ID column when the stored text no longer parses', async () => {
    const csv = csvOf([HEADER, ['e9', '', 'c', 1, chain.prevHash, chain.hash, '{"id":"e9",']]);
    const [read] = await collect(readCsvExport(Readable.from([csv])));
    expect([read.row.id, read.event, contentMatches(read.row)]).toEqual(['e9', null, false]);
  });

  it('refuses a CSV without the chain columns, naming what is missing', async () => {
    const csv = csvOf([
      ['ID', 'Action', 'Chain', 'Hash'],
      ['e1', 'x', 'c', chain.hash],
    ]);
    await expect(collect(readCsvExport(Readable.from([csv])))).rejects.toThrow(
      'line 1: the header has no column Chain Sequence, Previous Hash, Event JSON: not an export with chain columns',
    );
  });

  it('refuses bad chain fields and broken quoting, naming the line', async () => {
    const badSeq = csvOf([HEADER, ['e1', 'x', 'c', 'one', chain.prevHash, chain.hash, text]]);
    await expect(collect(readCsvExport(Readable.from([badSeq])))).rejects.toThrow(
      'line 2: seq must be a positive integer',
    );
    const short = csvOf([HEADER, ['e1', 'x', 'c']]);
    await expect(collect(readCsvExport(Readable.from([short])))).rejects.toThrow(/line 2: has 3 fields/);
    const unclosed = `${csvOf([HEADER])}e1,x,c,1,${chain.prevHash},${chain.hash},"{\r\n`;
    await expect(collect(readCsvExport(Readable.from([unclosed])))).rejects.toThrow(ExportFormatError);
  });
});

describe('checkpointOf', () => {
  it('takes body and signature from a checkpoint event, and nothing from other events', () => {
    const checkpoint = {
      event_type: 'audit_log_checkpoint_created',
      details: { extra: { sequence: 3, body: '{"version":1}', signature: 'c2ln' } },
    };
    expect(checkpointOf(checkpoint)).toEqual({ body: '{"version":1}', signature: 'c2ln' });
    // As the recorder's mapping stores it: the extra details spread into details.
    const spread = { ...checkpoint, details: { custom_message: 'Signed checkpoint 3', ...checkpoint.details.extra } };
    expect(checkpointOf(spread)).toEqual({ body: '{"version":1}', signature: 'c2ln' });
    expect(checkpointOf(event)).toBeNull();
    expect(checkpointOf({ ...checkpoint, details: { extra: { body: 1 } } })).toBeNull();
    expect(checkpointOf(null)).toBeNull();
  });
});
