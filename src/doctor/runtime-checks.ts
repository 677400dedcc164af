// Checks of what Hearth runs on and how it is set: Node, the listen address, the clock and
// the zone its billing periods are read in.

import { formatHostPort } from '../config/host-port.js';
import type { HearthConfig } from '../config/schema.js';
import { nextRollover, periodOf } from '../domain/period.js';
import { fail, ok, warn, type CheckResult } from './check.js';

/** `required`: package.json's engines.node, ">=20". */
export function nodeCheck(version: string, required: string): CheckResult {
  const min = Number(/^>=\s*(\d+)/.exec(required)?.[1] ?? 0);
  const major = Number(version.split('.')[0]);
  if (major < min) return fail('node', `Node ${version}; Hearth needs ${required}`, `install Node ${min} or newer (nodejs.org, or your distribution's nodejs package) and run Hearth with it`);
  return ok('node', `Node ${version} (Hearth needs ${required})`);
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** Keys and the admin token travel in headers: off this machine they want TLS. */
export function listenCheck(config: HearthConfig): CheckResult {
  const at = formatHostPort(config.listen);
  if (isLoopback(config.listen.host)) return ok('listen', `${at}: loopback, only this machine reaches it${config.publicBaseUrl ? ` (clients use ${config.publicBaseUrl})` : ''}`);
  if (config.publicBaseUrl.startsWith('https://')) return ok('listen', `${at}; clients come through TLS at ${config.publicBaseUrl} (public_base_url)`);
  return warn(
    'listen',
    `${at} is reachable from other machines without TLS (public_base_url is ${config.publicBaseUrl || 'not set'}): API keys and the admin token would cross the network in clear`,
    `put a TLS proxy (Caddy, nginx) in front and set public_base_url to its https:// URL, or listen on 127.0.0.1:${config.listen.port}`,
  );
}

/** Whether two zones turn the month at the same instants over the next year (UTC and Etc/UTC do). */
function sameMonths(a: string, b: string, from: Date): boolean {
  let at = from;
  for (let i = 0; i < 13; i++) {
    let next: Date;
    try {
      next = nextRollover(at, a);
      if (next.getTime() !== nextRollover(at, b).getTime()) return false;
    } catch {
      return a === b;
    }
    at = next;
  }
  return true;
}

/**
 * The clock dates every charge and picks its period: one behind the newest ledger row has gone
 * back in time (charges would land in an earlier period). The zone read is the config's, which
 * may rightly differ from the machine's; a difference is said, not failed.
 */
export function clockCheck(timeZone: string, now: Date, systemTimeZone: string, newestCharge: Date | null): CheckResult {
  const name = 'clock';
  const local = now.toLocaleString('sv-SE', { timeZone, hour12: false });
  const found = `now ${local} in ${timeZone} (timezone), billing period ${periodOf(now, timeZone)}`;
  // A few minutes of slack: NTP steps and the clocks of two machines sharing a restored backup.
  if (newestCharge !== null && now.getTime() < newestCharge.getTime() - 5 * 60_000) {
    return fail(name, `${found}, but the ledger's newest row is dated ${newestCharge.toISOString()}: the clock is behind`, 'set the clock right and keep it synchronized (timedatectl set-ntp true): charges are dated by it');
  }
  if (!sameMonths(timeZone, systemTimeZone, now)) {
    return warn(name, `${found}; this machine's zone is ${systemTimeZone}, so months turn at another hour than its local midnight`, `set timezone: ${systemTimeZone} in the config if periods should follow local time; leave it if ${timeZone} is meant`);
  }
  return ok(name, `${found}; the machine's zone (${systemTimeZone}) turns months at the same instants`);
}
