import { DynamicModule, INestApplicationContext, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { APP_CONFIG, Database, DatabaseModule, databaseUrl } from '@audit/platform';
import {
  dropDatabase,
  serviceDatabase,
  ServiceDatabaseEnv,
  TEST_DATABASE_URL,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { loadAuditRecorderConfig } from '../config';
import { migrations, runtimePrivileges } from '../migrations';
import { AUDIT_LOG_CLOCK, AuditJsonLog, Clock, rotatedFileClosedAt, utcDay, utcStamp } from './audit-json-log';
import { LogFilesRepository } from './log-files.repository';

/*
 * The JSON log's rotation against real files in a temporary folder and the real audit_log_files table (the
 * recorder's migrations, its runtime role): appends across the size limit and across a UTC midnight (an injected
 * clock), a recording refused by the database, and a start after a crash. Several instances share the folder,
 * with `{instance}` in AUDIT_LOG_FILE, as replicas on one volume do.
 */
jest.setTimeout(90_000);

const MAX_BYTES = 4096;
const suffix = uniqueSuffix();
const database = `it_audit_log_files_${suffix}`;
let dbEnv: ServiceDatabaseEnv;
let folder: string;
let superuser: Client;
const warnings: string[] = [];
const ignore = () => undefined;
const logger: LoggerService = {
  log: ignore,
  error: (message: unknown) => void warnings.push(String(message)),
  warn: (message: unknown) => void warnings.push(String(message)),
  debug: ignore,
  verbose: ignore,
};
const opened: INestApplicationContext[] = [];

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), `audit-log-files-${suffix}-`));
  dbEnv = await serviceDatabase('audit_recorder', database);
  superuser = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, database) });
  await superuser.connect();
});

afterAll(async () => {
  for (const app of opened) await app.close().catch(() => undefined);
  await superuser.end().catch(() => undefined);
  await dropDatabase(database);
  await rm(folder, { recursive: true, force: true });
});

/** One recorder instance's JSON log, wired as the recorder wires it (its database migrated at boot). */
async function startInstance(instance: string, clock?: Clock): Promise<INestApplicationContext> {
  const config = loadAuditRecorderConfig({
    ...dbEnv,
    INSTANCE_NAME: instance,
    AUDIT_LOG_FILE: join(folder, 'audit_json.{instance}.log'),
    AUDIT_LOG_MAX_BYTES: String(MAX_BYTES),
    LOG_LEVEL: 'silent',
  });
  class Settings {}
  class JsonLogUnderTest {}
  const root: DynamicModule = {
    module: JsonLogUnderTest,
    imports: [
      { module: Settings, global: true, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] },
      DatabaseModule.forRoot({
        entities: [],
        migrations,
        privileges: runtimePrivileges,
        serviceName: 'audit-recorder',
      }),
    ],
    providers: [LogFilesRepository, AuditJsonLog, ...(clock ? [{ provide: AUDIT_LOG_CLOCK, useValue: clock }] : [])],
  };
  const app = await NestFactory.createApplicationContext(root, { logger });
  opened.push(app);
  return app;
}

const activeName = (instance: string) => `audit_json.${instance}.log`;

/** The files closed from this instance's log, oldest first (closing time, then the counter). */
async function closedFiles(instance: string): Promise<string[]> {
  const counter = (name: string) => Number(/Z-(\d+)\.log$/.exec(name)?.[1] ?? 0);
  return (await readdir(folder))
    .filter((name) => rotatedFileClosedAt(activeName(instance), name) !== null)
    .map((name) => ({ name, at: (rotatedFileClosedAt(activeName(instance), name) as Date).getTime() }))
    .sort((a, b) => a.at - b.at || counter(a.name) - counter(b.name))
    .map((f) => f.name);
}

interface LogFileRow {
  file: string;
  bytes: string;
  sha256: string;
  closed_at: Date;
  checkpoint_sequence: string | null;
}

/** Through the service's own runtime role, as the checkpointer reads them. */
const rowsOf = (app: INestApplicationContext, instance: string) =>
  app
    .get(Database)
    .autocommit.query<LogFileRow & { instance: string }>(
      'select instance, file, bytes, sha256, closed_at, checkpoint_sequence from audit_log_files where instance = $1 order by file',
      [instance],
    );

const sha256sum = async (path: string): Promise<string> =>
  (await promisify(execFile)('sha256sum', [path])).stdout.split(' ')[0];

/** Each closed file is in the table once, with the size and digest `sha256sum` finds and its closing time. */
async function expectRecorded(app: INestApplicationContext, instance: string, files: string[]): Promise<void> {
  const rows = await rowsOf(app, instance);
  const expected = [];
  for (const file of files) {
    const path = join(folder, file);
    expected.push({
      instance,
      file,
      bytes: String((await stat(path)).size),
      sha256: await sha256sum(path),
      closed_at: rotatedFileClosedAt(activeName(instance), file),
      checkpoint_sequence: null,
    });
  }
  expect(rows).toEqual(expected.sort((a, b) => (a.file < b.file ? -1 : 1)));
}

/** A line as the consumer writes one: an event's JSON text, multi-byte characters included (bytes are not characters). */
const line = (at: Date, n: number, pad = 120) =>
  JSON.stringify({ id: randomUUID(), n, at: at.toISOString(), custom_message: `Créé ✓ ${'é'.repeat(pad)}` });

describe('the JSON log, rotated', () => {
  it('closes files by size and at UTC midnight, never splitting or losing a line, and records each with its SHA-256', async () => {
    let now = Date.parse('2030-06-14T23:50:00.000Z');
    const app = await startInstance('recorder-a', () => new Date(now));
    const log = app.get(AuditJsonLog);
    const appends: string[][] = [];
    let n = 0;
    const append = (lines: number, pad?: number) => {
      const texts = Array.from({ length: lines }, () => line(new Date(now), n++, pad));
      appends.push(texts);
      return log.append(texts);
    };

    // Day one: appends of one to three lines, a second apart, several times past the limit.
    for (let i = 0; i < 40; i++, now += 1000) await append(1 + (i % 3));
    // One append larger than the limit: closes the file before it, goes whole into a file of its own.
    await append(20);
    now += 1000;
    // Concurrent appends in one second: serialised, and two files closed in the same second get a counter.
    await Promise.all(Array.from({ length: 12 }, () => append(3)));
    now += 1000;
    await append(1);
    // Past midnight: the file is closed though far from full.
    now = Date.parse('2030-06-15T00:00:03.000Z');
    await append(1);
    for (let i = 0; i < 3; i++, now += 1000) await append(2);

    const closed = await closedFiles('recorder-a');
    const files = [...closed, activeName('recorder-a')];
    const contents = await Promise.all(files.map((f) => readFile(join(folder, f), 'utf8')));

    // Every line, once, in order, whole: the files put end to end are exactly the appends put end to end.
    const numbers = contents
      .join('')
      .split('\n')
      .slice(0, -1)
      .map((l) => (JSON.parse(l) as { n: number }).n);
    expect(numbers).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(contents.join('')).toBe(appends.map((a) => `${a.join('\n')}\n`).join(''));
    // No append is split between two files: each file is whole appends (so whole lines).
    const appendTexts = appends.map((a) => `${a.join('\n')}\n`);
    const perFile: string[][] = [];
    let next = 0;
    for (const content of contents) {
      const own: string[] = [];
      let rest = content;
      while (rest.length > 0) {
        expect(rest.startsWith(appendTexts[next])).toBe(true);
        own.push(appendTexts[next]);
        rest = rest.slice(appendTexts[next++].length);
      }
      perFile.push(own);
    }
    expect(next).toBe(appends.length);

    const bytes = (texts: string[]) => texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);
    const dayOf = (text: string) => utcDay(new Date((JSON.parse(text.split('\n')[0]) as { at: string }).at));
    perFile.forEach((own, i) => {
      // Within the limit, unless the file is one append larger than it.
      if (own.length > 1) expect(bytes(own)).toBeLessThanOrEqual(MAX_BYTES);
      // Lines of one UTC day per file.
      expect(new Set(own.map(dayOf)).size).toBe(1);
      // Closed for a reason: the next append would not fit, or it is of the next day.
      if (i < perFile.length - 1) {
        const following = perFile[i + 1][0];
        const full = bytes(own) + Buffer.byteLength(following) > MAX_BYTES;
        expect(full || dayOf(following) !== dayOf(own[0])).toBe(true);
      }
    });
    expect(perFile.some((own) => own.length === 1 && bytes(own) > MAX_BYTES)).toBe(true);
    // The midnight file: closed by the day, not by size.
    const lastOfDayOne = perFile.findIndex((own, i) => dayOf(perFile[i + 1]?.[0] ?? own[0]) !== dayOf(own[0]));
    expect(bytes(perFile[lastOfDayOne]) + Buffer.byteLength(perFile[lastOfDayOne + 1][0])).toBeLessThanOrEqual(
      MAX_BYTES,
    );
    expect(closed.some((f) => /Z-1\.log$/.test(f))).toBe(true);
    expect(closed[closed.length - 1]).toBe('audit_json.recorder-a-20300615T000003Z.log');
    expect(closed.length).toBeGreaterThanOrEqual(8);

    await expectRecorded(app, 'recorder-a', closed);
    expect(warnings).toEqual([]);
  });

  it('still closes a file when the database refuses its row, and records it at the next rotation', async () => {
    let now = Date.parse('2030-07-01T10:00:00.000Z');
    const app = await startInstance('recorder-b', () => new Date(now));
    const log = app.get(AuditJsonLog);
    await superuser.query(`
      create function it_refuse_log_file() returns trigger language plpgsql as $$
      begin raise exception 'audit_log_files refused by the test'; end $$;
      create trigger it_refuse_recorder_b before insert on audit_log_files
        for each row when (new.instance = 'recorder-b') execute function it_refuse_log_file();`);
    const written: string[] = [];
    const append = async (count: number) => {
      const texts = Array.from({ length: count }, (_, i) => line(new Date(now), written.length + i));
      written.push(...texts);
      await log.append(texts);
      now += 1000;
    };

    for (let i = 0; i < 30; i++) await append(2);
    const refused = await closedFiles('recorder-b');
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(await rowsOf(app, 'recorder-b')).toEqual([]);
    expect(warnings.some((w) => w.includes(refused[0]) && w.includes('refused by the test'))).toBe(true);

    await superuser.query('drop trigger it_refuse_recorder_b on audit_log_files');
    const before = refused.length;
    while ((await closedFiles('recorder-b')).length === before) await append(2);

    // The refused files and the new one, each once; no line lost on the way.
    const closed = await closedFiles('recorder-b');
    await expectRecorded(app, 'recorder-b', closed);
    const contents = await Promise.all(
      [...closed, activeName('recorder-b')].map((f) => readFile(join(folder, f), 'utf8')),
    );
    expect(contents.join('')).toBe(written.map((t) => `${t}\n`).join(''));
    warnings.length = 0;
  });

  it('records at start a file an earlier run closed but did not record, and closes a file begun yesterday', async () => {
    const instance = 'recorder-c';
    const yesterday = new Date(Date.now() - 86_400_000);
    const leftOver = `audit_json.${instance}-${utcStamp(new Date(Date.now() - 2 * 86_400_000))}.log`;
    await writeFile(join(folder, leftOver), `${line(yesterday, 1)}\n${line(yesterday, 2)}\n`);
    const active = join(folder, activeName(instance));
    const old = `${line(yesterday, 3)}\n`;
    await writeFile(active, old);
    await utimes(active, yesterday, yesterday);

    // The real clock: no provider for it.
    const app = await startInstance(instance);
    const [found] = await waitFor('the left-over file recorded at start', async () => {
      const rows = await rowsOf(app, instance);
      return rows.length > 0 && rows;
    });
    expect(found.file).toBe(leftOver);
    await expectRecorded(app, instance, [leftOver]);

    const today = line(new Date(), 4);
    await app.get(AuditJsonLog).append([today]);
    const closed = await closedFiles(instance);
    expect(closed).toHaveLength(2);
    const yesterdays = closed.find((f) => f !== leftOver) as string;
    expect(await readFile(join(folder, yesterdays), 'utf8')).toBe(old);
    expect(await readFile(active, 'utf8')).toBe(`${today}\n`);
    await expectRecorded(app, instance, closed);
    // Only this instance's files, though the folder holds the others'.
    const [{ n }] = await app
      .get(Database)
      .autocommit.query<{ n: number }>('select count(*)::int as n from audit_log_files where instance = $1', [
        instance,
      ]);
    expect(n).toBe(2);
    expect(warnings).toEqual([]);
  });
});
