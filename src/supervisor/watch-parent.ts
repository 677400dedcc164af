// A supervised child must not outlive the daemon that started it, even one killed with SIGKILL,
// which can stop nothing. The child polls its parent pid: once the daemon is gone, the child is
// re-parented (to init or a subreaper) and process.ppid changes.
//
// The daemon passes its own pid (`--parent-pid`), so a child whose parent died while the child
// was still loading its modules (a daemon killed during its start) notices too: a parent pid
// read by the child itself would then already be init's, and never change.

const POLL_MS = 1000;

/**
 * Calls `gone` once, as soon as this process's parent is no longer `parentPid` (at once if it
 * already is not), checking every second. The timer does not keep the process alive.
 */
export function watchParent(parentPid: number, gone: () => void): void {
  let fired = false;
  const check = () => {
    if (fired || process.ppid === parentPid) return;
    fired = true;
    clearInterval(timer);
    gone();
  };
  const timer = setInterval(check, POLL_MS);
  timer.unref();
  check();
}

/** The pid a child watches: `--parent-pid N` when given, else (`--watch-parent`) its parent now. */
export function parentToWatch(values: { 'parent-pid'?: string; 'watch-parent'?: boolean }): number | undefined {
  const given = values['parent-pid'];
  if (given !== undefined) {
    if (!/^[1-9]\d*$/.test(given)) throw new RangeError(`--parent-pid must be a process id (got "${given}")`);
    return Number(given);
  }
  return values['watch-parent'] ? process.ppid : undefined;
}
