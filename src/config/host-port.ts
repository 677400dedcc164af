// The one reading and writing of a listening address, "HOST:PORT": the config's listen keys, the
// --listen flags and the engine command line the daemon writes all go through these two.
import { isIPv4, isIPv6 } from 'node:net';

/** Host and port of a listening address; host without IPv6 brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** What a refused address should have looked like, for messages that name the setting. */
export const HOST_PORT_EXPECTED = 'HOST:PORT such as 127.0.0.1:8080 ([::1]:8080 for IPv6)';

const hostname = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/**
 * "HOST:PORT" → its parts, or undefined. IPv6 in brackets ("[::1]:8080"); the host an IPv4
 * address or a DNS name. Port 0 asks the OS for a free port (tests).
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(\[([^\]]+)\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const host = m[2] ?? (m[1] as string);
  const port = Number(m[3]);
  const hostOk = m[2] !== undefined ? isIPv6(host) : isIPv4(host) || hostname.test(host);
  return hostOk && port <= 65535 ? Object.freeze({ host, port }) : undefined;
}

/** The inverse of parseHostPort: an IPv6 host gets its brackets back. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
