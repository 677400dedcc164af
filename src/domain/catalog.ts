import type { Database } from '../db/database.js';
import { invalidRequest, notFound } from '../errors.js';

// The default catalog is data: plans (scopes, monthly credits, rate), as documented for customers
// (seed 000: "Plans and scopes"), and the endpoint → scope → credits table, whose defaults are the
// contract's (x-hearth-scope, x-hearth-credits in openapi/hearth.yaml; the daemon passes them
// in). Both are copied into the database with insert-or-ignore; from then on the operator owns
// the rows and a restart never overwrites their changes.

export const SCOPES = ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

export interface Plan {
  id: string;
  title: string;
  description: string;
  scopes: Scope[];
  /** Credits per calendar month; null = unlimited. */
  monthlyCredits: number | null;
  /** Requests per minute per workspace. */
  rpm: number;
  /** Inference calls (chat, streaming chat, generate) a workspace may have in flight at once. */
  maxConcurrent: number;
  /**
   * The workspace's share of the backend when calls wait for it (fair-queue.ts): its service is
   * counted divided by this, so weight 2 gets about twice the tokens of weight 1. At least 1.
   */
  weight: number;
}

export interface EndpointCost {
  /** Scope a key needs; null = any valid key. */
  scope: Scope | null;
  /** Credits charged on a successful call; 0 = free for metering. */
  credits: number;
}

export interface EndpointEntry extends EndpointCost {
  /** 'METHOD /path' under /api/v1, resource ids written ':id': the contract operation's catalog key. */
  endpoint: string;
}

// Requests per minute are not in the plan table of seed 000. The reference API of seed 003
// names two rates, "Standard API keys: 60 requests per minute" and "Premium API keys: 300
// requests per minute": the free trial gets the standard rate, paid plans the premium one, and
// Enterprise ("custom limits") more headroom that the operator tunes per deployment.
const TRIAL_RPM = 60;
const PAID_RPM = 300;
const ENTERPRISE_RPM = 1000;
// Concurrent inference calls per workspace: the bundled engine serves 2 sequences at once and
// queues 64 (engine.parallel, engine.max_queue), so a trial workspace may fill the slots but
// never much of the queue, and no single workspace can take the queue from everyone else.
const TRIAL_CONCURRENT = 2;
const PAID_CONCURRENT = 4;
const LOCAL_CONCURRENT = 8;
const ENTERPRISE_CONCURRENT = 16;
// Shares of the backend under contention: equal for every plan but Enterprise, whose SLA is the
// one promise of service a plan makes, so it gets twice the share while others wait too. The
// lower plans are already set apart by their credits, rate and max_concurrent, and a weight
// below 1 is not allowed, so that no plan's workspaces are served less than an equal share.
const WEIGHT = 1;
const ENTERPRISE_WEIGHT = 2;

export const DEFAULT_PLANS: readonly Readonly<Plan>[] = Object.freeze([
  { id: 'trial_chat', title: 'Trial', description: 'Chat API · bounded free tier for evaluation', scopes: ['chat'], monthlyCredits: 15_000, rpm: TRIAL_RPM, maxConcurrent: TRIAL_CONCURRENT, weight: WEIGHT },
  { id: 'paid_chat', title: 'Starter', description: 'Higher chat limits for production apps', scopes: ['chat'], monthlyCredits: 600_000, rpm: PAID_RPM, maxConcurrent: PAID_CONCURRENT, weight: WEIGHT },
  { id: 'chat_agent', title: 'Builder', description: 'Chat + create and manage agents', scopes: ['chat', 'chat_agent'], monthlyCredits: 1_500_000, rpm: PAID_RPM, maxConcurrent: PAID_CONCURRENT, weight: WEIGHT },
  {
    id: 'chat_agent_train',
    title: 'Pro',
    description: 'Agents + fine-tuning and training APIs',
    scopes: ['chat', 'chat_agent', 'chat_agent_train'],
    monthlyCredits: 4_000_000,
    rpm: PAID_RPM,
    maxConcurrent: PAID_CONCURRENT,
    weight: WEIGHT,
  },
  {
    id: 'local_agent_train',
    title: 'Local train',
    description: 'Your Ollama only — connect, fine-tune, and run models on hardware you control',
    scopes: ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'],
    monthlyCredits: 10_000_000,
    rpm: PAID_RPM,
    maxConcurrent: LOCAL_CONCURRENT,
    weight: WEIGHT,
  },
  {
    id: 'enterprise',
    title: 'Enterprise',
    description: 'Custom limits and SLA — contact sales',
    scopes: ['chat', 'chat_agent', 'chat_agent_train'],
    monthlyCredits: null,
    rpm: ENTERPRISE_RPM,
    maxConcurrent: ENTERPRISE_CONCURRENT,
    weight: ENTERPRISE_WEIGHT,
  },
] satisfies Plan[]);

const MAX_RPM = 100_000;
const MAX_CONCURRENT = 10_000;
const MAX_WEIGHT = 100;

/** Checks a list of scope names, dropping duplicates; names the first unknown one. */
export function parseScopes(value: unknown, what = 'scopes'): Scope[] {
  if (!Array.isArray(value)) throw invalidRequest(`${what} must be an array of scope names`, 'invalid_scopes');
  const out: Scope[] = [];
  for (const s of value) {
    if (!isScope(s)) throw invalidRequest(`unknown scope '${String(s)}' in ${what}; known: ${SCOPES.join(', ')}`, 'invalid_scopes');
    if (!out.includes(s)) out.push(s);
  }
  return out.sort((a, b) => SCOPES.indexOf(a) - SCOPES.indexOf(b));
}

/** Credits are whole, non-negative numbers; null means unlimited where allowed. */
export function checkCredits(value: unknown, what: string, nullable: boolean): number | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidRequest(`${what} must be a whole number ≥ 0${nullable ? ' or null (unlimited)' : ''}`, 'invalid_credits');
  }
  return value;
}

interface PlanRow {
  id: string;
  title: string;
  description: string;
  scopes: string;
  monthly_credits: number | null;
  rpm: number;
  max_concurrent: number;
  weight: number;
}

/** Scope JSON as stored; a name this code no longer knows is ignored rather than granted. */
export function scopesFromJson(json: string): Scope[] {
  return (JSON.parse(json) as unknown[]).filter(isScope);
}

export function planFromRow(r: PlanRow): Plan {
  return { id: r.id, title: r.title, description: r.description, scopes: scopesFromJson(r.scopes), monthlyCredits: r.monthly_credits, rpm: r.rpm, maxConcurrent: r.max_concurrent, weight: r.weight };
}

export class Catalog {
  private readonly stmts;
  private endpointCache: Map<string, EndpointCost> | undefined;
  private cachedDataVersion = -1;

  constructor(
    private readonly db: Database,
    /** The contract's operations with their default scope and cost: the endpoints there are. */
    private readonly defaults: readonly EndpointEntry[],
  ) {
    this.stmts = {
      insertPlan: db.prepare(
        'INSERT OR IGNORE INTO plans (id, title, description, scopes, monthly_credits, rpm, max_concurrent, weight) VALUES (@id, @title, @description, @scopes, @monthlyCredits, @rpm, @maxConcurrent, @weight)',
      ),
      insertEndpoint: db.prepare('INSERT OR IGNORE INTO endpoint_costs (endpoint, scope, credits) VALUES (@endpoint, @scope, @credits)'),
      plans: db.prepare<[], PlanRow>('SELECT id, title, description, scopes, monthly_credits, rpm, max_concurrent, weight FROM plans ORDER BY rowid'),
      plan: db.prepare<[string], PlanRow>('SELECT id, title, description, scopes, monthly_credits, rpm, max_concurrent, weight FROM plans WHERE id = ?'),
      updatePlan: db.prepare('UPDATE plans SET scopes = @scopes, monthly_credits = @monthlyCredits, rpm = @rpm, max_concurrent = @maxConcurrent, weight = @weight WHERE id = @id'),
      endpoints: db.prepare<[], { endpoint: string; scope: string | null; credits: number }>('SELECT endpoint, scope, credits FROM endpoint_costs ORDER BY rowid'),
      updateEndpoint: db.prepare('UPDATE endpoint_costs SET scope = @scope, credits = @credits WHERE endpoint = @endpoint'),
      // Changes whenever another connection (another process: the CLI) commits to the database;
      // this connection's own commits do not move it.
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };
    this.seedDefaults();
  }

  private seedDefaults(): void {
    this.db.transaction(() => {
      for (const p of DEFAULT_PLANS) this.stmts.insertPlan.run({ ...p, scopes: JSON.stringify(p.scopes) });
      for (const e of this.defaults) this.stmts.insertEndpoint.run(e);
    })();
  }

  plans(): Plan[] {
    return this.stmts.plans.all().map(planFromRow);
  }

  plan(id: string): Plan {
    const row = this.stmts.plan.get(id);
    if (row === undefined) throw notFound(`no plan '${id}'`, 'plan_not_found');
    return planFromRow(row);
  }

  setPlan(id: string, changes: { monthlyCredits?: number | null; rpm?: number; scopes?: readonly Scope[]; maxConcurrent?: number; weight?: number }): Plan {
    const current = this.plan(id);
    const next: Plan = { ...current };
    if (changes.monthlyCredits !== undefined) next.monthlyCredits = checkCredits(changes.monthlyCredits, 'monthlyCredits', true);
    if (changes.rpm !== undefined) {
      if (!Number.isSafeInteger(changes.rpm) || changes.rpm < 1 || changes.rpm > MAX_RPM) {
        throw invalidRequest(`rpm must be a whole number from 1 to ${MAX_RPM}`, 'invalid_rpm');
      }
      next.rpm = changes.rpm;
    }
    if (changes.maxConcurrent !== undefined) {
      if (!Number.isSafeInteger(changes.maxConcurrent) || changes.maxConcurrent < 1 || changes.maxConcurrent > MAX_CONCURRENT) {
        throw invalidRequest(`maxConcurrent must be a whole number from 1 to ${MAX_CONCURRENT}`, 'invalid_max_concurrent');
      }
      next.maxConcurrent = changes.maxConcurrent;
    }
    if (changes.weight !== undefined) {
      if (typeof changes.weight !== 'number' || !Number.isFinite(changes.weight) || changes.weight < 1 || changes.weight > MAX_WEIGHT) {
        throw invalidRequest(`weight must be a number from 1 to ${MAX_WEIGHT}`, 'invalid_weight');
      }
      next.weight = changes.weight;
    }
    if (changes.scopes !== undefined) next.scopes = parseScopes(changes.scopes);
    this.stmts.updatePlan.run({ id, scopes: JSON.stringify(next.scopes), monthlyCredits: next.monthlyCredits, rpm: next.rpm, maxConcurrent: next.maxConcurrent, weight: next.weight });
    return next;
  }

  endpoints(): EndpointEntry[] {
    return [...this.endpointTable()].map(([endpoint, cost]) => ({ endpoint, ...cost }));
  }

  /** Scope and cost of an endpoint key such as 'POST /chat'; read from memory on the request path. */
  endpoint(endpointKey: string): EndpointCost {
    const cost = this.endpointTable().get(endpointKey);
    if (cost === undefined) throw notFound(`no endpoint '${endpointKey}' in the catalog`, 'endpoint_not_found');
    return cost;
  }

  setEndpointCost(endpointKey: string, changes: { scope?: Scope | null; credits?: number }): EndpointEntry {
    const current = this.endpoint(endpointKey);
    const next: EndpointCost = { ...current };
    if (changes.scope !== undefined) {
      if (changes.scope !== null && !isScope(changes.scope)) throw invalidRequest(`unknown scope '${String(changes.scope)}'; known: ${SCOPES.join(', ')}`, 'invalid_scopes');
      next.scope = changes.scope;
    }
    if (changes.credits !== undefined) next.credits = checkCredits(changes.credits, 'credits', false) as number;
    this.stmts.updateEndpoint.run({ endpoint: endpointKey, ...next });
    this.endpointCache = undefined;
    return { endpoint: endpointKey, ...next };
  }

  private endpointTable(): Map<string, EndpointCost> {
    const version = this.stmts.dataVersion.get() as number;
    if (this.endpointCache === undefined || version !== this.cachedDataVersion) {
      // The contract's operations, in its order, as the operator set them. A row of an endpoint
      // the contract no longer has (GET /health, once listed) is no endpoint.
      const rows = new Map(this.stmts.endpoints.all().map((r) => [r.endpoint, r]));
      const table = new Map<string, EndpointCost>();
      for (const d of this.defaults) {
        const r = rows.get(d.endpoint);
        table.set(d.endpoint, Object.freeze(r === undefined ? { scope: d.scope, credits: d.credits } : { scope: r.scope as Scope | null /* CHECKed by the schema */, credits: r.credits }));
      }
      this.endpointCache = table;
      this.cachedDataVersion = version;
    }
    return this.endpointCache;
  }
}
