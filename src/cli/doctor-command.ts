import { anyFailed, formatResults } from '../doctor/check.js';
import { runDoctor } from '../doctor/doctor.js';
import { systemProbes } from '../doctor/probes.js';
import { parseCommandArgs } from './args.js';

const help = `Usage: hearth doctor [--config FILE | --data-dir DIR] [--json]

Checks this install and says what to fix, one line per check: ok, warn or fail, and for a warn
or a fail what to do. Exits 1 when any check fails (warnings alone exit 0).

Checks: Node's version; the config (every key); the data dir's owner and mode; the database
(integrity_check, schema version); the server secret's and admin token's modes; the backend of
the running hearth serve (version, models, loaded models); GPUs (driver, free VRAM); free disk
beside the models, job folders and backups; the listen address (TLS when not loopback); the
trainers (llama.cpp libraries; Python with torch, transformers and peft); the clock and the time
zone of billing periods.

Run it as the user hearth serve runs as (sudo -u hearth hearth doctor --config /etc/hearth/config.yaml).

Options:
  --config FILE   the daemon's config (default: $HEARTH_CONFIG, else /etc/hearth/config.yaml where it exists)
  --data-dir DIR  the daemon's data dir (default: the config's data_dir)
  --json          {"ok": bool, "checks": [{"check", "status", "message", "fix"}]}
`;

export async function runDoctorCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const results = await runDoctor({ configFile: values.config, dataDir: values['data-dir'] }, systemProbes());
  const failed = anyFailed(results);
  process.stdout.write((values.json ? JSON.stringify({ ok: !failed, checks: results }, null, 2) : formatResults(results)) + '\n');
  return failed ? 1 : 0;
}
