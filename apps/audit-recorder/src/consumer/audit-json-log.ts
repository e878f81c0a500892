import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { APP_CONFIG, stdoutDestination } from '@audit/platform';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { appendFile, lstat, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditRecorderConfig } from '../config';
import { LogFilesRepository } from './log-files.repository';

/** Where the JSON log goes: a file of this instance's own, or stdout (a container's log collector). */
export type AuditLogTarget = { kind: 'stdout' } | { kind: 'file'; path: string };

/**
 * AUDIT_LOG_FILE resolved for one instance. Two recorders appending to one file would interleave
 * their lines (each serialises only its own appends), hence `{instance}`.
 */
export function auditLogTarget(config: Pick<AuditRecorderConfig, 'AUDIT_LOG_FILE' | 'INSTANCE_NAME'>): AuditLogTarget {
  const file = config.AUDIT_LOG_FILE;
  if (file === '-' || file === 'stdout') return { kind: 'stdout' };
  return { kind: 'file', path: file.replaceAll('{instance}', config.INSTANCE_NAME) };
}

/** The time rotation decisions and rotated names use; tests inject one that crosses midnight. */
export type Clock = () => Date;
export const AUDIT_LOG_CLOCK = 'AUDIT_LOG_CLOCK';

/** When the file in use is closed (AUDIT_LOG_MAX_BYTES, AUDIT_LOG_ROTATE_DAILY). */
export interface RotationLimits {
  maxBytes: number;
  daily: boolean;
}

/** The file in use as the writer knows it: its size, and when its first line was written (null while empty). */
export interface ActiveFile {
  bytes: number;
  since: Date | null;
}

export type RotationReason = 'size' | 'day';

const DAY_MS = 86_400_000;
/** Days since the epoch, in UTC. */
export const utcDay = (at: Date): number => Math.floor(at.getTime() / DAY_MS);

/**
 * Whether the file in use must be closed before appending `appendBytes` at `now`. An empty file is never
 * closed, so an append larger than the limit goes whole into a file of its own: lines are never split.
 */
export function rotationReason(
  file: ActiveFile,
  appendBytes: number,
  now: Date,
  limits: RotationLimits,
): RotationReason | null {
  if (file.bytes === 0) return null;
  if (file.bytes + appendBytes > limits.maxBytes) return 'size';
  if (limits.daily && file.since !== null && utcDay(file.since) !== utcDay(now)) return 'day';
  return null;
}

/**
 * When an existing file's first line was written, as far as a restarted process can tell: its birth time
 * where the file system keeps one, else its last write (then a file begun one day and written the next
 * before a restart is closed one day late).
 */
export function firstWrittenAt(stats: { size: number; birthtimeMs: number; mtimeMs: number }): Date | null {
  if (stats.size === 0) return null;
  const born = stats.birthtimeMs > 0 && stats.birthtimeMs <= stats.mtimeMs;
  return new Date(born ? stats.birthtimeMs : stats.mtimeMs);
}

/** `yyyymmddThhmmssZ` in UTC. */
export const utcStamp = (at: Date): string => `${at.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;

/** The file's name without `.log` (the whole name when it has another ending). */
const stemOf = (activeName: string): string => (activeName.endsWith('.log') ? activeName.slice(0, -4) : activeName);

/**
 * The name a closed file gets: `<name without .log>-<UTC closing time>.log`, then `-1`, `-2`, … before
 * `.log` when two files are closed in the same second (`counter`).
 */
export function rotatedFileName(activeName: string, closedAt: Date, counter = 0): string {
  return `${stemOf(activeName)}-${utcStamp(closedAt)}${counter > 0 ? `-${counter}` : ''}.log`;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The closing time in `name` when it is a file closed from `activeName` (the pattern of `rotatedFileName`),
 * else null. What the start-up sweep looks for: only this instance's files, never another's in a shared folder.
 */
export function rotatedFileClosedAt(activeName: string, name: string): Date | null {
  const match = new RegExp(
    `^${escapeRegExp(stemOf(activeName))}-(\\d{4})(\\d{2})(\\d{2})T(\\d{2})(\\d{2})(\\d{2})Z(?:-[1-9]\\d*)?\\.log$`,
  ).exec(name);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  const at = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  // A date that does not exist (month 13, 30 February) is not a name this writer gave.
  return Number.isNaN(at.getTime()) || utcStamp(at) !== `${y}${mo}${d}T${h}${mi}${s}Z` ? null : at;
}

/** Size and SHA-256 (hex) of a file, read as a stream: a closed file is up to AUDIT_LOG_MAX_BYTES or more. */
export async function digestFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** After a failed rename, appends go on into the same file and the rename is tried again this much later. */
const ROTATION_RETRY_MS = 60_000;

const errorCode = (err: unknown): string | undefined => (err as { code?: string }).code;
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The audit_json.log of the developer guide: one JSON line per stored audit event. A file target is closed
 * by size and by UTC day (renamed with its closing time), and each closed file's size and SHA-256 go to
 * audit_log_files, where the next signed checkpoint picks them up (docs/operations.md, "The JSON log:
 * rotation and digests"). stdout never rotates.
 */
@Injectable()
export class AuditJsonLog implements OnModuleInit {
  private readonly logger = new Logger(AuditJsonLog.name);
  private readonly target: AuditLogTarget;
  private readonly instance: string;
  private readonly limits: RotationLimits;
  /** The file in use; null until the first write, and after a failed one (its size is then unknown). */
  private active: ActiveFile | null = null;
  private retryRotationAt = 0;
  /** The previous append, settled or not: appends, rotations and the sweep run one after the other. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) config: AuditRecorderConfig,
    private readonly logFiles: LogFilesRepository,
    @Optional() @Inject(AUDIT_LOG_CLOCK) private readonly now: Clock = () => new Date(),
  ) {
    this.target = auditLogTarget(config);
    this.instance = config.INSTANCE_NAME;
    this.limits = { maxBytes: config.AUDIT_LOG_MAX_BYTES, daily: config.AUDIT_LOG_ROTATE_DAILY };
  }

  onModuleInit(): void {
    if (this.target.kind === 'stdout') {
      this.logger.log('audit JSON log: stdout');
      return;
    }
    const path = this.target.path;
    const { maxBytes, daily } = this.limits;
    this.logger.log(
      `audit JSON log: ${path}, closed before it exceeds ${maxBytes} bytes${daily ? ' and at each new UTC day' : ''}`,
    );
    // Files an earlier run closed but did not record (it crashed between the rename and the insert, or the
    // database was away). Queued, not awaited: hashing must not hold the start-up; the first appends wait for it.
    void this.enqueue(() => this.recordClosedFiles(path));
  }

  /**
   * Appends one line per JSON text (`JSON.stringify` of an audit event). Serialised, because
   * partitions are consumed concurrently and appendFile writes more than 512 KiB in several
   * write() calls, so two concurrent appends could interleave in the middle of a line.
   */
  append(jsonTexts: string[]): Promise<void> {
    if (jsonTexts.length === 0) return Promise.resolve();
    const text = `${jsonTexts.join('\n')}\n`;
    return this.enqueue(() => this.write(text));
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.last.catch(() => undefined).then(work);
    this.last = next;
    return next;
  }

  private async write(text: string): Promise<void> {
    if (this.target.kind === 'stdout') return writeStdout(text);
    const path = this.target.path;
    let active = this.active ?? (await openActive(path));
    const bytes = Buffer.byteLength(text, 'utf8');
    const now = this.now();
    const reason = now.getTime() >= this.retryRotationAt ? rotationReason(active, bytes, now, this.limits) : null;
    if (reason && (await this.rotate(path, now, reason))) active = { bytes: 0, since: null };
    try {
      await appendFile(path, text, 'utf8');
    } catch (err) {
      // Part of the text may have reached the file: its size is read again before the next decision.
      this.active = null;
      throw err;
    }
    this.active = { bytes: active.bytes + bytes, since: active.since ?? now };
  }

  /**
   * Closes the file in use: renamed to a free `rotatedFileName`, then every closed file not yet in
   * audit_log_files recorded. False when the rename failed: the lines then go on into the same file
   * (never lost), and the rename is tried again after ROTATION_RETRY_MS.
   */
  private async rotate(path: string, now: Date, reason: RotationReason): Promise<boolean> {
    let closed: string;
    try {
      closed = await freeRotatedPath(path, now);
      await rename(path, closed);
    } catch (err) {
      // Moved away by someone else: nothing left to close, the next append starts a new file.
      if (errorCode(err) === 'ENOENT') return true;
      this.retryRotationAt = now.getTime() + ROTATION_RETRY_MS;
      this.logger.warn(
        `could not close the JSON log ${path} (${reason}): ${messageOf(err)}; appending to it, retrying in ${ROTATION_RETRY_MS / 1000} s`,
      );
      return false;
    }
    this.logger.log(`closed the JSON log ${path} as ${basename(closed)} (${reason})`);
    await this.recordClosedFiles(path);
    return true;
  }

  /**
   * Records the size and SHA-256 of every file closed from `path` (this instance's naming pattern, in its
   * folder) that audit_log_files does not list yet: the one just closed, and any an earlier failure or
   * crash left unrecorded. A failure is a warning: the file stays, and the next rotation or start records it.
   */
  private async recordClosedFiles(path: string): Promise<void> {
    const folder = dirname(path);
    const activeName = basename(path);
    let names: string[];
    let recorded: Set<string>;
    try {
      names = (await readdir(folder)).filter((name) => rotatedFileClosedAt(activeName, name) !== null).sort();
      if (names.length === 0) return;
      recorded = await this.logFiles.recorded(this.instance, names);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return; // no folder yet: nothing was ever written
      this.logger.warn(`could not look for unrecorded closed JSON log files in ${folder}: ${messageOf(err)}`);
      return;
    }
    for (const file of names) {
      if (recorded.has(file)) continue;
      try {
        const { bytes, sha256 } = await digestFile(join(folder, file));
        const closedAt = rotatedFileClosedAt(activeName, file) as Date;
        await this.logFiles.record({ instance: this.instance, file, bytes, sha256, closedAt });
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue; // archived or removed since the listing
        this.logger.warn(
          `could not record the digest of the closed JSON log ${join(folder, file)} (recorded at the next rotation or start): ${messageOf(err)}`,
        );
      }
    }
  }
}

/** The file in use at the first write: its folder created, its size and first write read from the disk. */
async function openActive(path: string): Promise<ActiveFile> {
  await mkdir(dirname(path), { recursive: true });
  try {
    const stats = await stat(path);
    return { bytes: stats.size, since: firstWrittenAt(stats) };
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { bytes: 0, since: null };
    throw err;
  }
}

/** The first of `rotatedFileName(…, 0, 1, 2 …)` not taken in the file's folder (rename would replace it). */
async function freeRotatedPath(path: string, closedAt: Date): Promise<string> {
  for (let counter = 0; ; counter++) {
    const candidate = join(dirname(path), rotatedFileName(basename(path), closedAt, counter));
    try {
      await lstat(candidate);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return candidate;
      throw err;
    }
  }
}

/**
 * Through the writer every log line of the process goes through, so audit lines and log lines never
 * cut into each other; a collector tells them apart by `event_type` (audit events) or `level` (logs).
 */
async function writeStdout(text: string): Promise<void> {
  const out = stdoutDestination();
  if (!out.write(text)) await once(out, 'drain');
}
