// Supervised children run in their own process group (spawned `detached`), whose id is the
// child's pid, so one signal to `-pgid` reaches the child and everything it started.
//
// The registry below holds every group that may still have members. When the daemon itself
// exits — a normal exit, `process.exit()`, or an uncaught exception — the 'exit' hook kills them
// all synchronously, so a crash of the daemon's own code leaves no orphan. Node emits no 'exit'
// for a fatal signal it does not handle, so the daemon must turn SIGTERM/SIGINT into an orderly
// shutdown (stop the supervisors, or at least call process.exit()).

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killAllGroups(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}

export function registerGroup(pgid: number): void {
  if (!exitHookInstalled) {
    process.on('exit', killAllGroups);
    exitHookInstalled = true;
  }
  liveGroups.add(pgid);
}

export function unregisterGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

/** Groups the registry would kill if the daemon exited now (for tests and diagnostics). */
export function registeredGroups(): number[] {
  return [...liveGroups];
}

/**
 * Sends `signal` to every process of group `pgid`. Returns false when the group has no member
 * left (ESRCH); a group we may not signal (EPERM) still exists, so that counts as true.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true;
    throw err;
  }
}

/** Whether any process (zombies included) is still in group `pgid`. */
export function groupExists(pgid: number): boolean {
  return signalGroup(pgid, 0);
}
