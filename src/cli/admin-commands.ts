import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from '../domain/catalog.js';
import { keyView, planView, workspaceView } from '../views/record-views.js';
import { usageReport, usageReports } from '../views/usage-report.js';
import { loadCliConfig } from './cli-config.js';
import { DATABASE_FILE, openStores, type Stores } from '../daemon/stores.js';
import { ADMIN_TOKEN_FILE, loadSecrets } from '../daemon/secrets.js';
import { HearthError } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';

const common = { config: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

const help: Record<string, string> = {
  init: 'hearth init [--data-dir D] [--config F] [--json]\n  Creates the data dir, the server secret, the admin token and the database.',
  workspaces: 'hearth workspaces create NAME --plan PLAN [--credits N] | workspaces set NAME [--plan PLAN] [--credits N|plan] | workspaces list   [--data-dir D] [--json]\n  --credits: the workspace\'s own monthly budget; "plan" returns it to its plan\'s.',
  keys: 'hearth keys create --workspace W [--plan P] [--name N] [--scopes a,b] [--expires ISO] | keys list [--workspace W] | keys revoke ID | keys rotate ID   [--data-dir D] [--json]\n  keys create --plan P also makes workspace W on plan P when there is none.',
  plans: 'hearth plans list | hearth plans set PLAN [--credits N|unlimited] [--rpm N] [--max-concurrent N] [--weight W] [--scopes a,b]   [--data-dir D] [--json]',
  usage: 'hearth usage [--workspace W] [--period YYYY-MM] [--data-dir D] [--json]',
  endpoints: 'hearth endpoints list | hearth endpoints set "POST /chat" --credits N   [--data-dir D] [--json]',
};

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** "--scopes a,b" as a list; the domain checks each name. */
const scopeList = (flag: string | undefined): Scope[] | undefined => (flag === undefined ? undefined : (flag.split(',').map((x) => x.trim()).filter((x) => x !== '') as Scope[]));

function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n');
}

/** Opens the daemon's data dir directly: SQLite in WAL mode lets these run beside the daemon. */
async function withStores<T>(values: { config?: string; 'data-dir'?: string }, fn: (s: Stores) => T | Promise<T>): Promise<T> {
  const config = loadCliConfig({ file: values.config, overrides: { data_dir: values['data-dir'] } });
  // Only init and serve make a data dir. A mistyped --data-dir, or ./data read from another
  // folder than the daemon's, would otherwise be a new empty one that answers "(none)".
  if (!existsSync(join(config.dataDir, DATABASE_FILE))) {
    throw new CliError(`no Hearth data dir at ${config.dataDir}: give the daemon's --data-dir or --config, or make one with hearth init --data-dir ${config.dataDir}`, 1);
  }
  // A secret that cannot be had (the keychain, or a service install's credential, missing) is
  // one line that says what to do, like any refusal.
  const secrets = await loadSecrets(config.dataDir, config.secrets.store).catch((err: unknown) => {
    throw err instanceof HearthError ? new CliError(err.message, 2) : err;
  });
  const stores = openStores(config, secrets.serverSecret);
  try {
    return await fn(stores);
  } catch (err) {
    if (err instanceof HearthError) throw new CliError(err.message, err.status === 404 ? 1 : 2);
    throw err;
  } finally {
    stores.close();
  }
}

/** The flags each command takes beside the common ones: any other is refused, never ignored. */
export const FLAGS: Readonly<Record<string, readonly string[]>> = {
  init: [],
  'workspaces create': ['plan', 'credits'],
  'workspaces set': ['plan', 'credits'],
  'workspaces list': [],
  'keys create': ['workspace', 'plan', 'name', 'scopes', 'expires'],
  'keys list': ['workspace'],
  'keys revoke': [],
  'keys rotate': [],
  'plans list': [],
  'plans set': ['credits', 'rpm', 'max-concurrent', 'weight', 'scopes'],
  'endpoints list': [],
  'endpoints set': ['credits'],
  usage: ['workspace', 'period'],
};

export async function runAdminCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...common, plan: { type: 'string' }, credits: { type: 'string' }, rpm: { type: 'string' }, 'max-concurrent': { type: 'string' }, weight: { type: 'string' }, workspace: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, expires: { type: 'string' }, period: { type: 'string' } },
    true,
  );
  if (values.help) {
    process.stdout.write((help[command] ?? '') + '\n');
    return 0;
  }
  const [sub, arg] = positionals;
  const which = `${command} ${sub ?? ''}`.trim();
  const takes = FLAGS[which];
  if (takes === undefined) throw new CliError(`unknown ${command} command "${sub ?? ''}"\n${help[command] ?? ''}`);
  const stray = Object.keys(values).find((flag) => !(flag in common) && !takes.includes(flag));
  if (stray !== undefined) throw new CliError(`${which} does not take --${stray}\n${help[command] ?? ''}`);
  const int = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new CliError(`${flag} must be a non-negative integer (got "${v}")`);
    return Number(v);
  };
  // A plan's weight may be fractional (1.5); the catalog checks its range.
  const decimal = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new CliError(`${flag} must be a non-negative number (got "${v}")`);
    return Number(v);
  };

  if (command === 'init') {
    const config = loadCliConfig({ file: values.config, overrides: { data_dir: values['data-dir'] } });
    const secrets = await loadSecrets(config.dataDir, config.secrets.store);
    openStores(config, secrets.serverSecret).close();
    const tokenFile = join(config.dataDir, ADMIN_TOKEN_FILE);
    // The token is printed only by the run that created it; later runs name the file.
    const view = { data_dir: config.dataDir, admin_token: secrets.created ? secrets.adminToken : null, admin_token_file: tokenFile };
    print(values.json, view, () =>
      secrets.created
        ? `data dir ready: ${config.dataDir}\nadmin token (shown once; also in ${tokenFile}, mode 0600):\n${secrets.adminToken}`
        : `data dir ready: ${config.dataDir} (already initialized; the admin token is in ${tokenFile})`,
    );
    return 0;
  }

  return withStores(values, (s) => {
    switch (which) {
      case 'workspaces create': {
        if (!arg || !values.plan) throw new CliError(help.workspaces!);
        const w = workspaceView(s.workspaces.create({ name: arg, planId: values.plan, monthlyCredits: int(values.credits, '--credits') }));
        print(values.json, w, () => `created workspace ${w.name} (${w.id}) on plan ${w.plan}`);
        return 0;
      }
      case 'workspaces set': {
        if (!arg || (values.plan === undefined && values.credits === undefined)) throw new CliError(help.workspaces!);
        const credits = values.credits === 'plan' ? null : int(values.credits, '--credits');
        const w = workspaceView(s.workspaces.update(arg, { planId: values.plan, monthlyCredits: credits }));
        print(values.json, w, () => `workspace ${w.name}: plan ${w.plan}, ${w.monthly_credits ?? "the plan's"} credits/month`);
        return 0;
      }
      case 'workspaces list': {
        const rows = s.workspaces.list().map(workspaceView);
        print(values.json, rows, () => table(rows));
        return 0;
      }
      case 'keys create': {
        const { workspace, plan } = values;
        if (!workspace) throw new CliError(help.keys!);
        const expiresAt = values.expires === undefined ? undefined : new Date(values.expires);
        if (expiresAt !== undefined && Number.isNaN(expiresAt.getTime())) throw new CliError(`--expires must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z (got "${values.expires}")`);
        // One transaction: a key that cannot be made (scopes beyond the plan, say) leaves no new workspace behind.
        const made = s.db.transaction(() => {
          const existing = s.workspaces.find(workspace);
          // --plan names the plan the key is for; it never moves an existing workspace to another plan.
          if (existing !== undefined && plan !== undefined && existing.planId !== plan) {
            throw new CliError(`workspace ${existing.name} is on plan ${existing.planId}, not ${plan}; leave out --plan, or change its plan with hearth workspaces set ${existing.name} --plan ${plan}`);
          }
          const w = existing ?? (plan === undefined ? s.workspaces.get(workspace) : s.workspaces.create({ name: workspace, planId: plan }));
          return { w, created: existing === undefined, ...s.keys.create({ workspaceId: w.id, name: values.name ?? 'default', scopes: scopeList(values.scopes), expiresAt }) };
        })();
        const { w, created, key, record } = made;
        print(values.json, { ...keyView(record), key }, () => `${created ? `created workspace ${w.name} (${w.id}) on plan ${w.planId}\n` : ''}key ${record.id} for workspace ${w.name} (scopes ${record.scopes.join(',')}); shown once:\n${key}`);
        return 0;
      }
      case 'keys list': {
        const rows = s.keys.list({ workspaceId: values.workspace ? s.workspaces.get(values.workspace).id : undefined }).map(keyView);
        print(values.json, rows, () => table(rows.map(({ workspace_id: _w, ...r }) => r)));
        return 0;
      }
      case 'keys revoke': {
        if (!arg) throw new CliError(help.keys!);
        const k = keyView(s.keys.revoke(arg));
        print(values.json, k, () => `revoked ${k.id}`);
        return 0;
      }
      case 'keys rotate': {
        if (!arg) throw new CliError(help.keys!);
        const { key, record } = s.keys.rotate(arg);
        print(values.json, { ...keyView(record), key }, () => `rotated ${arg} → ${record.id} (the old key is revoked); shown once:\n${key}`);
        return 0;
      }
      case 'plans list': {
        const rows = s.catalog.plans().map(planView);
        print(values.json, rows, () => table(rows.map(({ description: _d, ...r }) => r)));
        return 0;
      }
      case 'plans set': {
        if (!arg) throw new CliError(help.plans!);
        const credits = values.credits === 'unlimited' ? null : int(values.credits, '--credits');
        const p = planView(
          s.catalog.setPlan(arg, {
            monthlyCredits: credits,
            rpm: int(values.rpm, '--rpm'),
            maxConcurrent: int(values['max-concurrent'], '--max-concurrent'),
            weight: decimal(values.weight, '--weight'),
            scopes: scopeList(values.scopes),
          }),
        );
        print(values.json, p, () => `plan ${p.id}: ${p.monthly_credits ?? 'unlimited'} credits/month, ${p.rpm} requests/minute, ${p.max_concurrent} inference calls at once, weight ${p.weight}, scopes ${p.scopes.join(',')}`);
        return 0;
      }
      case 'endpoints list': {
        const rows = s.catalog.endpoints();
        print(values.json, rows, () => table(rows.map((e) => ({ endpoint: e.endpoint, scope: e.scope ?? '(any key)', credits: e.credits }))));
        return 0;
      }
      case 'endpoints set': {
        if (!arg) throw new CliError(help.endpoints!);
        const e = s.catalog.setEndpointCost(arg, { credits: int(values.credits, '--credits') });
        print(values.json, e, () => `${e.endpoint}: ${e.credits} credits (scope ${e.scope ?? 'any key'})`);
        return 0;
      }
      case 'usage': {
        const reports = values.workspace ? [usageReport(s, s.workspaces.get(values.workspace).id, values.period)] : usageReports(s, values.period);
        print(values.json, reports, () =>
          table(reports.map((r) => ({ workspace: r.workspace.name, plan: r.plan.id, period: r.period.id, used: r.credits.used, limit: r.credits.limit ?? 'unlimited', remaining: r.credits.remaining ?? 'unlimited' }))),
        );
        return 0;
      }
      default:
        // Unknown commands were refused above, through FLAGS; this is a FLAGS entry without a case.
        throw new Error(`admin command "${which}" is listed in FLAGS but not handled`);
    }
  });
}
