import { createSocket, type Socket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A private name resolution for one command: `unshare -m` gives the command its
 * own mount namespace (private propagation), where a temp hosts file is bound
 * over /etc/hosts and a resolv.conf naming a loopback NXDOMAIN server over
 * /etc/resolv.conf. Registry NAMES then resolve to 127.0.0.1 (containerd falls
 * back to plain HTTP for loopback IPs, so only a name tests TLS) and unknown
 * names fail fast with "no such host", whatever the machine's DNS is.
 */
export interface PrivateResolver {
  /** Prefix for a command: `[unshare, -m, --, sh, -c, SCRIPT, sh, HOSTS, RESOLV]`. */
  readonly prefix: readonly string[];
  setNames(names: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

// Fixed script; the paths and the command come as positional arguments, never interpolated.
const script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"';

/**
 * `names` resolve to 127.0.0.1; `elsewhere` maps more names to other loopback
 * addresses (a name on an address nothing listens on is refused for sure,
 * whatever port another process picks on 127.0.0.1 meanwhile).
 */
export async function createPrivateResolver(dir: string, names: readonly string[], elsewhere: Readonly<Record<string, string>> = {}): Promise<PrivateResolver> {
  const hostsFile = path.join(dir, 'hosts');
  const resolvFile = path.join(dir, 'resolv.conf');
  const dns = await startNxdomainServer();
  const extra = Object.entries(elsewhere).map(([n, address]) => `${address} ${n}\n`).join('');
  const setNames = (list: readonly string[]) =>
    writeFile(hostsFile, `127.0.0.1 localhost\n::1 localhost\n${list.map((n) => `127.0.0.1 ${n}\n`).join('')}${extra}`);
  await setNames(names);
  await writeFile(resolvFile, `nameserver ${dns.address}\noptions timeout:2 attempts:1\n`);
  return {
    prefix: ['unshare', '-m', '--', 'sh', '-c', script, 'sh', hostsFile, resolvFile],
    setNames,
    stop: () => new Promise<void>((resolve) => dns.socket.close(() => { resolve(); })),
  };
}

/** A DNS server on a loopback address, port 53, answering NXDOMAIN to every query. */
async function startNxdomainServer(): Promise<{ socket: Socket; address: string }> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const address = `127.${2 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      const end = questionEnd(msg);
      if (end === undefined) return;
      const answer = Buffer.from(msg.subarray(0, end));
      // QR=1, opcode/RD copied, RA=1, RCODE=3 (NXDOMAIN); no answers, question kept.
      answer[2] = 0x80 | (msg[2]! & 0x79);
      answer[3] = 0x83;
      answer.writeUInt16BE(1, 4);
      answer.writeUInt16BE(0, 6);
      answer.writeUInt16BE(0, 8);
      answer.writeUInt16BE(0, 10);
      socket.send(answer, rinfo.port, rinfo.address);
    });
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => { resolve(false); });
      socket.bind(53, address, () => { resolve(true); });
    });
    if (ok) return { socket, address };
    socket.close();
  }
  throw new Error('no loopback address free for the test DNS server');
}

/** Offset just after the first question (header 12 bytes, QNAME labels, QTYPE, QCLASS). */
function questionEnd(msg: Buffer): number | undefined {
  let i = 12;
  while (i < msg.length && msg[i] !== 0) i += 1 + msg[i]!;
  return i + 5 <= msg.length ? i + 5 : undefined;
}
