/**
 * Verifies an export of audit events offline (docs/contracts.md, "Export formats and offline verification"):
 *   npm run audit:verify -- --export FILE --public-key FILE [--checkpoints FILE] [--window] [--format jsonl|csv]
 * Prints the verification result as JSON on stdout; exits 0 when the export is intact, 1 when it is not, 2 when
 * the arguments or a file cannot be used. Needs no database or service: the public key (PEM, as served by the
 * recorder or handed out by its operators) and the export, whose checkpoint events carry the signed checkpoints
 * (or `--checkpoints`: GET /api/v4/audit_events/checkpoints's answer, or a JSON array of {body, signature};
 * then only those are used). The file is streamed (verifyExportStream keeps ~100 bytes an event, not the text).
 * `--window` is for a date-bounded export: chains may start and end anywhere, gaps inside are still deletions.
 */
import {
  ExportFileFormat,
  ExportFormatError,
  publicKeyFromPem,
  SignedCheckpoint,
  VerificationMode,
  VerificationResult,
  verifyExportStream,
} from '@audit/audit-chain';
import { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';

export interface VerifyExportOptions {
  exportFile: string;
  /** One file, or several: `--public-key` once per key, the current one and those before a rotation. */
  publicKeyFile: string | string[];
  checkpointsFile?: string;
  mode: VerificationMode;
  /** Otherwise by extension (.jsonl, .ndjson, .csv), else by the first character (`{` for JSONL). */
  format?: ExportFileFormat;
}

/** Arguments or files that cannot be used: exit 2, with this message. */
export class UsageError extends Error {}

export const USAGE =
  'usage: npm run audit:verify -- --export FILE --public-key FILE [--checkpoints FILE] [--window] [--format jsonl|csv]';

export async function verifyExport(options: VerifyExportOptions): Promise<VerificationResult> {
  const files = Array.isArray(options.publicKeyFile) ? options.publicKeyFile : [options.publicKeyFile];
  const publicKey = await Promise.all(files.map((file) => readPublicKey(file)));
  const checkpoints = options.checkpointsFile ? await readCheckpoints(options.checkpointsFile) : undefined;
  const format = options.format ?? (await formatOf(options.exportFile));
  try {
    return await verifyExportStream(createReadStream(options.exportFile), {
      format,
      publicKey,
      checkpoints,
      mode: options.mode,
    });
  } catch (err) {
    if (err instanceof ExportFormatError)
      throw new UsageError(`${options.exportFile} is not a ${format} export of audit events: ${err.message}`);
    throw new UsageError(`cannot read ${options.exportFile}: ${message(err)}`);
  }
}

/** The command line: parses `argv`, verifies, prints; returns the exit code. */
export async function main(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  let options: VerifyExportOptions;
  try {
    options = parseOptions(argv);
  } catch (e) {
    err(`audit:verify: ${message(e)}\n${USAGE}\n`);
    return 2;
  }
  try {
    const result = await verifyExport(options);
    out(`${JSON.stringify(result, null, 2)}\n`);
    return result.valid ? 0 : 1;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`audit:verify: ${e.message}\n`);
    return 2;
  }
}

function parseOptions(argv: string[]): VerifyExportOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      export: { type: 'string' },
      'public-key': { type: 'string', multiple: true },
      checkpoints: { type: 'string' },
      window: { type: 'boolean', default: false },
      format: { type: 'string' },
    },
  });
  if (!values.export) throw new UsageError('--export FILE is required');
  if (!values['public-key']?.length) throw new UsageError('--public-key FILE is required');
  if (values.format !== undefined && values.format !== 'jsonl' && values.format !== 'csv')
    throw new UsageError(`--format must be jsonl or csv, not ${values.format}`);
  return {
    exportFile: values.export,
    publicKeyFile: values['public-key'],
    checkpointsFile: values.checkpoints,
    mode: values.window ? 'window' : 'full',
    format: values.format as ExportFileFormat | undefined,
  };
}

const message = (e: unknown) =>
  (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${file}: ${message(e)}`);
  }
}

async function readPublicKey(file: string): Promise<KeyObject> {
  try {
    return publicKeyFromPem(await readText(file, 'public key'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`the public key ${file} ${message(e)}`);
  }
}

async function readCheckpoints(file: string): Promise<SignedCheckpoint[]> {
  let items: unknown;
  try {
    items = JSON.parse(await readText(file, 'checkpoints'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`the checkpoints ${file} are not JSON: ${message(e)}`);
  }
  // As GET /api/v4/audit_events/checkpoints serves them ({ key_id, public_key, checkpoints: [...] }), or the list alone.
  if (items && typeof items === 'object' && !Array.isArray(items))
    items = (items as { checkpoints?: unknown }).checkpoints;
  const valid =
    Array.isArray(items) && items.every((c) => typeof c?.body === 'string' && typeof c?.signature === 'string');
  if (!valid)
    throw new UsageError(
      `the checkpoints ${file} must be a JSON array of objects with body and signature, or the checkpoints route's answer`,
    );
  return (items as SignedCheckpoint[]).map((c) => ({ body: c.body, signature: c.signature }));
}

async function formatOf(file: string): Promise<ExportFileFormat> {
  const info = await stat(file).catch((e: unknown) => {
    throw new UsageError(`cannot read the export ${file}: ${message(e)}`);
  });
  if (!info.isFile()) throw new UsageError(`the export ${file} is not a file`);
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  if (/\.csv$/i.test(file)) return 'csv';
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return /^(\uFEFF)?\s*\{/.test(buffer.toString('utf8', 0, bytesRead)) ? 'jsonl' : 'csv';
  } finally {
    await handle.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: Error) => {
      process.stderr.write(`audit:verify: ${err.stack ?? err.message}\n`);
      process.exitCode = 2;
    });
}
