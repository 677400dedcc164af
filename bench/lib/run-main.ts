/**
 * Runs a benchmark's main with the command line's arguments: its answer is the exit code; a
 * failure prints its message (not a stack: a bad flag or a backend that is down says so plainly)
 * and exits 2.
 */
export function runMain(main: (argv: string[]) => Promise<number> | number): void {
  Promise.resolve()
    .then(() => main(process.argv.slice(2)))
    .then(
      (code) => (process.exitCode = code),
      (err: unknown) => {
        console.error(err instanceof Error ? err.message : err);
        process.exitCode = 2;
      },
    );
}
