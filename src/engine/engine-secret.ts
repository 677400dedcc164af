// The secret the daemon gives its bundled engine at each start, so that the engine serves only
// Hearth: without it any local process could reach the engine's port, list every workspace's
// fine-tuned models and run them unmetered. It travels in the child's environment, never on its
// command line: /proc/<pid>/cmdline is readable by every user, /proc/<pid>/environ by the owner
// only. The name is not a config key: the daemon's config loader refuses it (a daemon never reads
// it), and only `hearth engine` takes it, at start, out of its own environment.

/** The variable `hearth engine` reads its secret from. */
export const ENGINE_SECRET_ENV = 'HEARTH_ENGINE_SECRET';

/** Shorter than this is no secret (the daemon's are 43 characters: 32 random bytes, base64url). */
export const MIN_ENGINE_SECRET_LENGTH = 16;

/**
 * The secret `hearth engine` was started with, or undefined (unset or empty: it serves anyone).
 * Removed from `env` once read, so nothing the engine might start inherits it. A value too short
 * to be a secret is refused rather than taken: an engine the operator believes protected must be.
 */
export function takeEngineSecret(env: NodeJS.ProcessEnv): string | undefined {
  const value = env[ENGINE_SECRET_ENV];
  delete env[ENGINE_SECRET_ENV];
  if (value === undefined || value === '') return undefined;
  if (value.length < MIN_ENGINE_SECRET_LENGTH) throw new RangeError(`${ENGINE_SECRET_ENV} must be at least ${MIN_ENGINE_SECRET_LENGTH} characters (or unset, to serve without one)`);
  return value;
}
