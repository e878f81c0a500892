/**
 * The offline verifier in a process of its own, as an auditor runs it (`npm run audit:verify`): the CLI's
 * core, verifyExport (tools/audit-verify.ts), on one export, full mode, the checkpoints taken from the
 * export's own checkpoint events. Timed from opening the files to the result: node's start-up and the
 * TypeScript loader (this runs under @swc-node/register, the CLI too) are left out.
 *   BENCH_VERIFY_OFFLINE='{"exportFile":"…","publicKeyFile":"…"}'
 * Prints one JSON line: the verification result, seconds, CPU seconds and the process's RSS high-water (MB).
 */
import { verifyExport } from '../../tools/audit-verify';

interface Config {
  exportFile: string;
  publicKeyFile: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env['BENCH_VERIFY_OFFLINE'] ?? '') as Config;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await verifyExport({ exportFile: cfg.exportFile, publicKeyFile: cfg.publicKeyFile, mode: 'full' });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${JSON.stringify({
      result,
      seconds,
      cpuS: (cpu.user + cpu.system) / 1e6,
      // resourceUsage's maxRSS is in kB.
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
