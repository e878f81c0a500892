import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/*
 * Which process owns one end of a TCP connection on this machine, from /proc (Linux). Replicas of a
 * service run the same code with the same names (Kafka client id, PostgreSQL application_name, no
 * instance header on a delivery), so the only thing telling them apart from the outside is the local
 * port of their sockets: a PostgreSQL backend's `client_port`, a receiver's `remotePort`.
 */

/** Socket inode → local port, for every TCP socket of the machine (IPv4 and IPv6). */
function localPortsByInode(): Map<string, number> {
  const ports = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const port = Number.parseInt(fields[1].split(':')[1], 16);
      ports.set(fields[9], port);
    }
  }
  return ports;
}

/** The local ports of the TCP sockets process `pid` holds open right now (empty once it has exited). */
export function localPortsOf(pid: number): Set<number> {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return new Set();
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed between readdir and readlink
    }
  }
  const ports = new Set<number>();
  for (const [inode, port] of localPortsByInode()) if (inodes.has(inode)) ports.add(port);
  return ports;
}

/** Which of `pids` holds the socket whose local port is `port`, if any. */
export function ownerOfPort(port: number, pids: readonly number[]): number | undefined {
  return pids.find((pid) => localPortsOf(pid).has(port));
}
