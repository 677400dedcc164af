import { readFileSync } from 'node:fs';

// Read once from package.json so the CLI, the engine's /api/version and logs agree.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const hearthVersion: string = pkg.version;
