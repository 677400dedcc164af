// Prints config.example.yaml (or, with --env-table, the README's table of environment
// variables) from the config schema:
//   node dist/scripts/config-example.js > config.example.yaml
//   node dist/scripts/config-example.js --env-table
import { renderEnvTable } from '../src/config/env.js';
import { renderConfigExample } from '../src/config/example.js';

const arg = process.argv[2];
if (arg !== undefined && arg !== '--env-table') {
  process.stderr.write('usage: config-example [--env-table]\n');
  process.exitCode = 2;
} else {
  process.stdout.write(arg === '--env-table' ? renderEnvTable() : renderConfigExample());
}
