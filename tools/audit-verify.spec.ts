import {
  CHAIN_CSV_COLUMNS,
  ChainHead,
  CheckpointBody,
  emptyHead,
  jsonlLine,
  linkEvents,
  SignedCheckpoint,
  signCheckpoint,
  signingKeyFromPem,
} from '@audit/audit-chain';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, verifyExport } from './audit-verify';

/*
 * The offline verifier's core on files in a temporary directory: exports written in both formats, in export
 * order (not chain order), with their checkpoint events, then damaged the ways an export can be.
 */

const newKey = () =>
  signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
const key = newKey();
let dir: string;
let publicKeyFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'audit-verify-'));
  publicKeyFile = join(dir, 'public.pem');
  writeFileSync(publicKeyFile, key.publicKeyPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Stored {
  id: string;
  text: string;
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

const eventText = (id: string, n: number, extra: object = {}) =>
  JSON.stringify({
    id,
    author_id: 1,
    entity_id: 10,
    entity_type: 'Project',
    details: { custom_message: `Created Release v${n}, "quoted"`, ...extra },
    created_at: new Date(Date.UTC(2026, 10, 28, 10, 0, n)).toISOString(),
    event_type: 'release_created',
  });

/** Appends texts to a chain as the recorder does, returning the stored rows and the new head. */
function append(head: ChainHead, texts: string[]): { rows: Stored[]; head: ChainHead } {
  const linked = linkEvents(head, texts);
  const rows = linked.links.map((link, i) => ({
    id: (JSON.parse(texts[i]) as { id: string }).id,
    text: texts[i],
    chain: head.chain,
    seq: link.seq,
    prevHash: link.prevHash.toString('hex'),
    hash: link.hash.toString('hex'),
  }));
  return { rows, head: linked.head };
}

function checkpoint(sequence: number, previous: string | null, heads: ChainHead[]): SignedCheckpoint {
  const body: CheckpointBody = {
    version: 1,
    id: randomUUID(),
    sequence,
    created_at: '2026-11-28T10:01:00.000Z',
    reason: 'interval',
    key_id: key.keyId,
    previous,
    chains: heads,
    purged: [],
    log_files: [],
  };
  return signCheckpoint(body, key);
}

/** The checkpoint as its audit event carries it (the mapping spreads its extra details into details). */
const checkpointEventText = (signed: SignedCheckpoint, sequence: number) =>
  JSON.stringify({
    id: randomUUID(),
    author_id: 0,
    entity_id: 1,
    entity_type: 'Instance',
    details: {
      custom_message: `Signed checkpoint ${sequence}`,
      sequence,
      body: signed.body,
      signature: signed.signature,
    },
    created_at: '2026-11-28T10:01:00.000Z',
    event_type: 'audit_log_checkpoint_created',
  });

/** Two chains of 5 events, a checkpoint of both, stored in chain 0 as its 6th event, and 2 unsigned events after it. */
function store(): { rows: Stored[]; checkpoint: SignedCheckpoint } {
  const a = append(
    emptyHead('domain-events/0'),
    [1, 2, 3, 4, 5].map((n) => eventText(randomUUID(), n)),
  );
  const b = append(
    emptyHead('domain-events/1'),
    [1, 2, 3, 4, 5].map((n) => eventText(randomUUID(), n + 10)),
  );
  const signed = checkpoint(1, null, [a.head, b.head]);
  const c = append(a.head, [checkpointEventText(signed, 1), eventText(randomUUID(), 6)]);
  const d = append(b.head, [eventText(randomUUID(), 16)]);
  return { rows: [...a.rows, ...b.rows, ...c.rows, ...d.rows], checkpoint: signed };
}

/** An export's order is not chain order (it is created_at, id): any other order will do, the hashes' is stable. */
const exportOrder = (rows: Stored[]) => [...rows].sort((x, y) => (x.hash < y.hash ? -1 : 1));

function writeJsonl(name: string, rows: Stored[]): string {
  const file = join(dir, name);
  writeFileSync(file, rows.map((r) => `${jsonlLine(r.text, r)}\n`).join(''));
  return file;
}

const field = (value: string | number) =>
  typeof value === 'string' && /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : String(value);

function writeCsv(name: string, rows: Stored[]): string {
  const file = join(dir, name);
  const lines = [
    ['ID', 'Action', ...CHAIN_CSV_COLUMNS],
    ...rows.map((r) => [r.id, 'Created Release', r.chain, r.seq, r.prevHash, r.hash, r.text]),
  ];
  writeFileSync(file, lines.map((l) => `${l.map(field).join(',')}\r\n`).join(''));
  return file;
}

describe('audit:verify (verifyExport)', () => {
  const { rows, checkpoint: signed } = store();

  it('verifies a JSONL export in export order with the checkpoints it carries', async () => {
    const file = writeJsonl('intact.jsonl', exportOrder(rows));
    expect(await verifyExport({ exportFile: file, publicKeyFile, mode: 'full' })).toEqual({
      valid: true,
      events_checked: 13,
      first_broken_event_id: null,
      reason: null,
      checkpoints_checked: 1,
      latest_checkpoint: { sequence: 1, created_at: '2026-11-28T10:01:00.000Z' },
      unsigned_events: 3,
    });
  });

  it('verifies the same export as CSV, and recognises both formats without an extension', async () => {
    const csv = writeCsv('intact.csv', exportOrder(rows));
    expect(await verifyExport({ exportFile: csv, publicKeyFile, mode: 'full' })).toMatchObject({
      valid: true,
      events_checked: 13,
      checkpoints_checked: 1,
    });
    const bare = writeCsv('intact-csv', exportOrder(rows));
    expect((await verifyExport({ exportFile: bare, publicKeyFile, mode: 'full' })).events_checked).toBe(13);
    const jsonl = writeJsonl('intact-jsonl', rows);
    expect((await verifyExport({ exportFile: jsonl, publicKeyFile, mode: 'full' })).checkpoints_checked).toBe(1);
  });

  it('names the event whose payload was altered in the file', async () => {
    const victim = rows[2];
    const altered = rows.map((r) =>
      r === victim ? { ...r, text: r.text.replace('"author_id":1', '"author_id":2') } : r,
    );
    for (const file of [writeJsonl('altered.jsonl', exportOrder(altered)), writeCsv('altered.csv', altered)]) {
      const result = await verifyExport({ exportFile: file, publicKeyFile, mode: 'full' });
      expect([result.valid, result.first_broken_event_id]).toEqual([false, victim.id]);
      expect(result.reason).toBe(
        'The event at position 3 of chain domain-events/0 does not match its hash: its content was changed.',
      );
    }
  });

  it('finds a deleted line, and accepts a window of the chains with --window only', async () => {
    const deleted = writeJsonl(
      'deleted.jsonl',
      rows.filter((r) => r !== rows[3]),
    );
    expect(await verifyExport({ exportFile: deleted, publicKeyFile, mode: 'full' })).toMatchObject({
      valid: false,
      first_broken_event_id: rows[4].id,
    });
    const window = writeJsonl(
      'window.jsonl',
      rows.filter((r) => r.seq >= 3),
    );
    expect((await verifyExport({ exportFile: window, publicKeyFile, mode: 'full' })).valid).toBe(false);
    expect(await verifyExport({ exportFile: window, publicKeyFile, mode: 'window' })).toMatchObject({
      valid: true,
      events_checked: 9,
    });
  });

  it('uses only the checkpoints of --checkpoints when given, and finds a forged one', async () => {
    const file = writeJsonl('with-file.jsonl', rows);
    const good = join(dir, 'checkpoints.json');
    writeFileSync(good, JSON.stringify([{ sequence: 1, ...signed }]));
    expect(await verifyExport({ exportFile: file, publicKeyFile, checkpointsFile: good, mode: 'full' })).toMatchObject({
      valid: true,
      checkpoints_checked: 1,
    });
    const forger = newKey();
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify([signCheckpoint({ ...JSON.parse(signed.body), key_id: key.keyId }, forger)]));
    expect(
      await verifyExport({ exportFile: file, publicKeyFile, checkpointsFile: forged, mode: 'full' }),
    ).toMatchObject({
      valid: false,
      first_broken_event_id: null,
      reason: 'Checkpoint 1 does not match its signature: its text was changed or it was forged.',
    });
  });

  it('takes the checkpoints route answer as --checkpoints, and --public-key once per key', async () => {
    const file = writeJsonl('two-keys.jsonl', rows);
    const served = join(dir, 'served.json');
    writeFileSync(served, JSON.stringify({ key_id: key.keyId, public_key: key.publicKeyPem, checkpoints: [signed] }));
    const earlier = join(dir, 'earlier.pem');
    writeFileSync(earlier, newKey().publicKeyPem);
    expect(
      await verifyExport({
        exportFile: file,
        publicKeyFile: [earlier, publicKeyFile],
        checkpointsFile: served,
        mode: 'full',
      }),
    ).toMatchObject({ valid: true, checkpoints_checked: 1 });
    const lines: string[] = [];
    expect(
      await main(['--export', file, '--public-key', earlier, '--public-key', publicKeyFile], (t) => lines.push(t)),
    ).toBe(0);
    expect(await main(['--export', file, '--public-key', earlier], (t) => lines.push(t))).toBe(1);
    expect(lines.join('')).toContain('signed with another key');
  });

  it('sorts an export larger than one packed chunk, in any order, with ids that are not UUIDs', async () => {
    const texts = Array.from({ length: 70_000 }, (_, i) => JSON.stringify({ id: `event-${i}`, n: i }));
    const { rows: many } = append(emptyHead('big/0'), texts);
    const file = writeJsonl('big.jsonl', many.reverse());
    expect(await verifyExport({ exportFile: file, publicKeyFile, mode: 'full' })).toMatchObject({
      valid: true,
      events_checked: 70_000,
    });
    const broken = many.map((r) => (r.seq === 65_537 ? { ...r, text: r.text.replace('"n"', '"m"') } : r));
    expect(
      (await verifyExport({ exportFile: writeJsonl('big-broken.jsonl', broken), publicKeyFile, mode: 'full' }))
        .first_broken_event_id,
    ).toBe('event-65536');
  });
});

describe('audit:verify (main)', () => {
  const { rows } = store();
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(
      argv,
      (t) => (out += t),
      (t) => (err += t),
    );
    return { code, out, err };
  };

  it('prints the result as JSON and exits 0 when intact, 1 when not', async () => {
    const intact = await run('--export', writeJsonl('main.jsonl', rows), '--public-key', publicKeyFile);
    expect([intact.code, JSON.parse(intact.out).valid, intact.err]).toEqual([0, true, '']);
    const altered = rows.map((r, i) => (i === 0 ? { ...r, text: r.text.replace('v1', 'v9') } : r));
    const broken = await run('--export', writeJsonl('main-broken.jsonl', altered), '--public-key', publicKeyFile);
    expect([broken.code, JSON.parse(broken.out).first_broken_event_id]).toEqual([1, rows[0].id]);
  });

  it('exits 1 naming the line of an export damaged in the middle', async () => {
    const file = join(dir, 'damaged.jsonl');
    writeFileSync(file, `${jsonlLine(rows[0].text, rows[0])}\n{"id":"x"\n`);
    const result = await run('--export', file, '--public-key', publicKeyFile);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out).reason).toBe('Line 2 of the export is not an exported event: is not a JSON object.');
  });

  it('exits 2 with a message for arguments and files it cannot use', async () => {
    const exportFile = writeJsonl('usage.jsonl', rows);
    const notExport = join(dir, 'notes.txt');
    writeFileSync(notExport, 'hello\n');
    const notJson = join(dir, 'checkpoints.txt');
    writeFileSync(notJson, 'nope');
    const cases: Array<[string[], RegExp]> = [
      [['--public-key', publicKeyFile], /--export FILE is required\nusage: npm run audit:verify/],
      [['--export', exportFile], /--public-key FILE is required/],
      [['--export', exportFile, '--public-key', publicKeyFile, '--bogus'], /Unknown option '--bogus'/],
      [['--export', exportFile, '--public-key', publicKeyFile, '--format', 'xml'], /--format must be jsonl or csv/],
      [['--export', join(dir, 'missing.jsonl'), '--public-key', publicKeyFile], /missing\.jsonl: no such file/],
      [['--export', exportFile, '--public-key', exportFile], /the public key .* is not a PEM public key/],
      [
        ['--export', notExport, '--public-key', publicKeyFile],
        /notes\.txt is not a csv export of audit events: line 1/,
      ],
      [['--export', exportFile, '--public-key', publicKeyFile, '--checkpoints', notJson], /are not JSON/],
    ];
    for (const [argv, message] of cases) {
      const result = await run(...argv);
      expect([result.code, result.out]).toEqual([2, '']);
      expect(result.err).toMatch(message);
    }
  });
});
