// What every gateway benchmark does with its daemon before measuring: check that its backend is
// up in a process of its own (so the daemon's CPU can be told apart), and take a key whose rate
// limit, budget and concurrency bound are out of the way.
import type { DaemonProcess } from '../../test/helpers/daemon-process.js';

/** The daemon as it ships: info-level access lines on, response validation (a development aid) off. */
export const SHIPPED_DAEMON_ENV: Readonly<Record<string, string>> = { HEARTH_DEV_VALIDATE_RESPONSES: 'false', HEARTH_LOG_LEVEL: 'info' };

export interface BenchBackend {
  url: string;
  pid: number;
}

/** The daemon's backend, from health (its address and pid are for the admin token only). */
export async function backendOf(d: DaemonProcess, signal?: AbortSignal): Promise<BenchBackend> {
  const health = (await (await fetch(`${d.url}/api/v1/health`, { signal, headers: { authorization: `Bearer ${d.adminToken}` } })).json()) as {
    backend: { url: string; pid?: number; state: string };
  };
  if (health.backend.state !== 'up' || health.backend.pid === undefined) throw new Error(`backend not up: ${JSON.stringify(health.backend)}`);
  if (health.backend.pid === d.child.pid) throw new Error('the backend runs in the daemon process; its CPU could not be told apart');
  return { url: health.backend.url, pid: health.backend.pid };
}

/**
 * A key on Enterprise (unlimited credits) with its plan's rpm and concurrent calls raised to the
 * maximum, so that only the gateway's own cost is measured.
 */
export async function unboundedKey(d: DaemonProcess): Promise<string> {
  const plan = await d.admin('PATCH', '/api/admin/plans/enterprise', { rpm: 100_000, max_concurrent: 10_000 });
  if (plan.status !== 200) throw new Error(`raising the rate limit: ${plan.status} ${JSON.stringify(plan.body)}`);
  return (await d.keyFor('enterprise')).key;
}
