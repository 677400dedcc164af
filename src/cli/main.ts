// Entry point of the `hearth` command: a table of sub-commands, each in its own module,
// loaded lazily so `hearth --help` does not pay for node-llama-cpp's start-up.
import { CliError } from './cli-error.js';
import { schemaField } from '../config/schema.js';

interface Command {
  summary: string;
  run: (argv: string[]) => Promise<number>;
}

const admin = (name: string): Command['run'] => async (argv) => (await import('./admin-commands.js')).runAdminCommand(name, argv);

const commands: Record<string, Command> = {
  serve: {
    summary: `run the Hearth daemon (gateway, ledger, backend supervision) on ${schemaField('listen').default}`,
    run: async (argv) => (await import('./serve-command.js')).runServeCommand(argv),
  },
  init: { summary: 'create the data dir, server secret, database and admin token (printed here, once)', run: admin('init') },
  workspaces: { summary: 'workspaces create NAME --plan PLAN [--credits N] | workspaces set NAME [--plan P] [--credits N|plan] | workspaces list', run: admin('workspaces') },
  keys: { summary: 'keys create --workspace W [--plan P] [--name N] [--scopes a,b] [--expires ISO] | keys list [--workspace W] | keys revoke ID | keys rotate ID', run: admin('keys') },
  plans: { summary: 'plans list | plans set PLAN [--credits N|unlimited] [--rpm N] [--max-concurrent N] [--weight W] [--scopes a,b]', run: admin('plans') },
  usage: { summary: 'usage [--workspace W] [--period YYYY-MM]: credits used and left per workspace', run: admin('usage') },
  endpoints: { summary: 'endpoints list | endpoints set "POST /chat" --credits N (credit costs)', run: admin('endpoints') },
  engine: {
    summary: 'run the bundled inference engine (an Ollama-compatible server on llama.cpp)',
    run: async (argv) => (await import('./engine-command.js')).runEngineCommand(argv),
  },
  doctor: {
    summary: 'doctor [--config F | --data-dir D] [--json]: check this install (ok / warn / fail per check, and what to fix); exits 1 on a fail',
    run: async (argv) => (await import('./doctor-command.js')).runDoctorCommand(argv),
  },
  backup: {
    summary: 'backup --out FILE [--force]: a consistent copy of the database, taken while the daemon serves',
    run: async (argv) => (await import('./backup-command.js')).runBackupCommand('backup', argv),
  },
  restore: {
    summary: 'restore FILE: put a backup back, with the daemon stopped (the replaced database is kept)',
    run: async (argv) => (await import('./backup-command.js')).runBackupCommand('restore', argv),
  },
  models: {
    summary: "models import FILE.gguf --name NAME [--adapter-for BASE]: into the daemon's backend, or --backend URL",
    run: async (argv) => (await import('./models-command.js')).runModelsCommand(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['Usage: hearth <command> [options]', '', 'Commands:', ...lines, '', 'Run `hearth <command> --help` for a command\'s options.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { hearthVersion } = await import('../version.js');
    process.stdout.write(hearthVersion + '\n');
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`hearth: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`hearth: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`hearth: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
