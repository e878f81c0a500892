/**
 * CPU accounting from /proc (Linux only; elsewhere the figures are NaN). On a 2-core machine that
 * PostgreSQL, Kafka, the service and the load generator share, "who burns the CPU per request"
 * says more about a gap to the baseline than latency alone.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ: 100 on every mainstream Linux build.

/** CPU seconds (user + system) a process has used so far. */
export function processCpuS(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** Machine-wide busy and total jiffies, for a busy fraction between two samples. */
function machineTicks(): { busy: number; total: number } {
  try {
    const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = values.map(Number);
    const idle = n[3] + (n[4] ?? 0); // idle + iowait
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already in user
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

export interface CpuWindow {
  /** CPU seconds the watched process used during the window. */
  processS: number;
  /** CPU seconds this (load generating) process used. */
  selfS: number;
  /** Share of all cores busy during the window, 0..1. */
  machineBusy: number;
}

/** Starts a measurement window; call the returned function to close it. */
export function cpuWindow(pid: number | undefined): () => CpuWindow {
  const process0 = processCpuS(pid);
  const self0 = process.cpuUsage();
  const machine0 = machineTicks();
  return () => {
    const self = process.cpuUsage(self0);
    const machine = machineTicks();
    return {
      processS: processCpuS(pid) - process0,
      selfS: (self.user + self.system) / 1e6,
      machineBusy: (machine.busy - machine0.busy) / (machine.total - machine0.total),
    };
  };
}
