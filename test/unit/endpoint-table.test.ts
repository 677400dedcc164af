// The contract as the one endpoint table: every operation carries its scope and cost, the
// matcher finds operations as express routes them, and the routers serve exactly the contract.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'express';
import { hearthOperations, loadHearthSpec } from '../../src/contract/hearth-spec.js';
import { operationsOf, surfaceOfPath, SURFACES, type Operation } from '../../src/contract/operations.js';
import { OperationMatcher } from '../../src/contract/operation-matcher.js';
import { routeContractDifferences } from '../../src/api/route-check.js';
import { createHealthRouter } from '../../src/api/v1/health.js';
import { createOpenApiRouter } from '../../src/api/v1/openapi.js';
import { createChatRouter } from '../../src/api/v1/chat.js';
import { createGenerateRouter } from '../../src/api/v1/generate.js';
import { createEmbeddingsRouter } from '../../src/api/v1/embeddings.js';
import { createModelsRouter } from '../../src/api/v1/models.js';
import { createUsageRouter } from '../../src/api/v1/usage.js';
import { createDatasetsRouter } from '../../src/api/v1/finetune-datasets.js';
import { createJobsRouter } from '../../src/api/v1/finetune-jobs.js';
import { createAdminRouter } from '../../src/api/admin/index.js';
import { createQueueRouter } from '../../src/api/admin/queue.js';
import { createSessionRouter } from '../../src/api/admin/session.js';
import { createAuditRouter } from '../../src/api/admin/audit.js';
import { createAdminModelsRouter } from '../../src/api/admin/models.js';
import { createOverviewRouter } from '../../src/api/admin/overview.js';
import { createRequestStatsRouter } from '../../src/api/admin/request-stats.js';
import { createAdminFinetuneRouter } from '../../src/api/admin/finetune.js';
import { packageRoot } from '../../src/paths.js';

const ops = hearthOperations();
const matcher = new OperationMatcher(ops, SURFACES);
const opOf = (method: string, path: string) => {
  const r = matcher.resolve(method, path);
  return r.kind === 'operation' ? `${r.operation.method} ${r.operation.path}` : r.kind;
};

/** A copy of the contract with one change made by `edit`. */
function specWith(edit: (spec: { paths: Record<string, Record<string, Record<string, unknown>>> }) => void): Record<string, unknown> {
  const spec = loadHearthSpec() as { paths: Record<string, Record<string, Record<string, unknown>>> };
  edit(spec);
  return spec;
}

describe('the contract as the endpoint table', () => {
  test('every key-authenticated operation states a scope and a cost; the rest need no key or the admin token', () => {
    const customer = ops.filter((o) => o.surface.prefix === '/api/v1');
    assert.equal(customer.length, 19);
    for (const o of customer) {
      if (o.auth === 'none') assert.ok(['/api/v1/health', '/api/v1/openapi.json'].includes(o.path), o.path);
      else assert.ok(o.endpoint !== undefined && Number.isInteger(o.credits), o.path);
    }
    // Signing in to the console is the one operator operation that takes no credential.
    const admin = ops.filter((o) => o.surface.prefix === '/api/admin');
    assert.ok(admin.every((o) => (o.operationId === 'adminCreateSession' ? o.auth === 'none' : o.auth === 'admin') && o.endpoint === undefined));
    assert.deepEqual(
      ops.filter((o) => o.inference && o.surface.prefix === '/api/v1').map((o) => o.operationId),
      ['chat', 'chatStream', 'generate', 'embeddings'],
    );
  });

  test('every operator operation declares the admin token and the console session cookie, as the authenticator takes them', () => {
    const spec = loadHearthSpec() as { paths: Record<string, Record<string, { operationId: string; security?: unknown }>> };
    const sessionOnly = ['adminGetSession', 'adminDeleteSession'];
    for (const o of ops.filter((op) => op.surface.prefix === '/api/admin')) {
      const declared = spec.paths[o.path]![o.method.toLowerCase()]!.security;
      const expected = o.auth === 'none' ? [] : sessionOnly.includes(o.operationId) ? [{ AdminSession: [] }] : [{ BearerKey: [] }, { AdminSession: [] }];
      assert.deepEqual(declared, expected, `${o.method} ${o.path}`);
    }
  });

  test('an operation without its scope or cost stops the daemon at start, naming it', () => {
    assert.throws(() => operationsOf(specWith((s) => delete s.paths['/api/v1/chat']!.post!['x-hearth-scope'])), /POST \/api\/v1\/chat: x-hearth-scope/);
    assert.throws(() => operationsOf(specWith((s) => (s.paths['/api/v1/chat']!.post!['x-hearth-scope'] = 'root'))), /x-hearth-scope must be a scope/);
    assert.throws(() => operationsOf(specWith((s) => (s.paths['/api/v1/chat']!.post!['x-hearth-credits'] = -1))), /x-hearth-credits/);
    assert.throws(() => operationsOf(specWith((s) => (s.paths['/elsewhere'] = { get: { operationId: 'x' } }))), /outside every surface/);
  });

  test('two operations that could match one path are refused', () => {
    const overlapping = operationsOf(specWith((s) => (s.paths['/api/v1/finetune/jobs/latest'] = { get: { operationId: 'latestJob', 'x-hearth-scope': 'chat', 'x-hearth-credits': 0 } })));
    assert.throws(() => new OperationMatcher(overlapping, SURFACES), /can match the same path/);
  });
});

describe('the operation matcher finds operations as the router does', () => {
  test('exact paths, templates and the surfaces', () => {
    assert.equal(opOf('POST', '/api/v1/chat'), 'POST /api/v1/chat');
    assert.equal(opOf('GET', '/api/v1/finetune/jobs/ftjob_0123456789abcdef'), 'GET /api/v1/finetune/jobs/{id}');
    assert.equal(opOf('POST', '/api/v1/finetune/jobs/x/start'), 'POST /api/v1/finetune/jobs/{id}/start');
    assert.equal(opOf('GET', '/api/admin/plans'), 'GET /api/admin/plans');
    assert.equal(opOf('GET', '/docs/'), 'outside');
    assert.equal(opOf('GET', '/api/v1x/chat'), 'outside');
  });

  test('a surface is its prefix alone or followed by a slash, never a longer segment', () => {
    const prefixOf = (p: string) => surfaceOfPath(p)?.prefix;
    assert.equal(prefixOf('/v1'), '/v1');
    assert.equal(prefixOf('/v1/'), '/v1');
    assert.equal(prefixOf('/v1/chat/completions'), '/v1');
    assert.equal(prefixOf('/ollama'), '/ollama');
    assert.equal(prefixOf('/api/v1/chat'), '/api/v1');
    for (const p of ['/v1x', '/v10/models', '/ollamax/api/tags', '/api/v1x/chat', '/api/adminx', '/', '', '/v']) assert.equal(prefixOf(p), undefined, p);
  });

  test('letter case: literal segments compare exactly (express runs with case sensitive routing)', () => {
    for (const p of ['/api/v1/Chat', '/api/v1/FINETUNE/datasets', '/api/v1/finetune/JOBS', '/api/v1/Finetune/Datasets']) assert.equal(opOf('POST', p), 'not_found', p);
    assert.equal(opOf('GET', '/API/v1/usage'), 'outside', 'the surface prefix is case-sensitive too: not a surface, so the final 404');
  });

  test('one trailing slash is the same operation; an empty segment is none', () => {
    assert.equal(opOf('GET', '/api/v1/finetune/jobs/'), 'GET /api/v1/finetune/jobs');
    assert.equal(opOf('POST', '/api/v1/chat/'), 'POST /api/v1/chat');
    assert.equal(opOf('POST', '/api/v1/chat//'), 'not_found');
    assert.equal(opOf('POST', '/api/v1/finetune/jobs//start'), 'not_found');
    assert.equal(opOf('POST', '/api/v1//chat'), 'not_found');
  });

  test('HEAD is the GET operation; other undeclared methods are 405 with what is allowed', () => {
    assert.equal(opOf('HEAD', '/api/v1/finetune/jobs'), 'GET /api/v1/finetune/jobs');
    assert.equal(opOf('HEAD', '/api/v1/chat'), 'method_not_allowed');
    const r = matcher.resolve('DELETE', '/api/v1/finetune/jobs');
    assert.equal(r.kind, 'method_not_allowed');
    assert.deepEqual(r.kind === 'method_not_allowed' && r.allow, ['GET', 'HEAD', 'POST']);
    assert.equal(opOf('OPTIONS', '/api/v1/usage'), 'method_not_allowed');
  });

  test('encoded characters: the raw path is matched, parameters are decoded once', () => {
    assert.equal(opOf('GET', '/api/v1/fine%74une/jobs'), 'not_found');
    assert.equal(opOf('GET', '/api/v1/finetune%2Fjobs'), 'not_found');
    const r = matcher.resolve('GET', '/api/v1/finetune/jobs/a%2F..%2Fb');
    assert.equal(r.kind, 'operation');
    assert.deepEqual(r.kind === 'operation' && r.params, { id: 'a/../b' });
    assert.equal(opOf('GET', '/api/v1/finetune/jobs/%E0%A4%A'), 'bad_path');
  });
});

describe('routers and contract agree', () => {
  const none = {} as never;
  const v1Routers = () => [
    createHealthRouter(none),
    createOpenApiRouter({}),
    createChatRouter({ chat: none, heartbeatMs: 1000 }),
    createGenerateRouter({ chat: none }),
    createEmbeddingsRouter({ chat: none }),
    createModelsRouter({ chat: none, metadata: none }),
    createUsageRouter(none),
    createDatasetsRouter({ datasets: none }),
    createJobsRouter({ finetune: none }),
  ];

  test('every route the routers serve is in the contract and every operation is served', () => {
    assert.deepEqual(routeContractDifferences(ops, '/api/v1', v1Routers()), []);
    assert.deepEqual(routeContractDifferences(ops, '/api/admin', [createAdminRouter(none), createAdminModelsRouter(none), createOverviewRouter(none), createRequestStatsRouter(none), createSessionRouter({ adminToken: 'x' } as never), createAuditRouter(none), createQueueRouter(none), createAdminFinetuneRouter(none)]), []);
  });

  test('a route added to a router but not to the contract is named; an operation left unserved too', () => {
    const extra = Router();
    extra.get('/secret', (_req, res) => void res.json({ leaked: true }));
    extra.all('/anything', (_req, res) => void res.end());
    assert.deepEqual(routeContractDifferences(ops, '/api/v1', [...v1Routers(), extra]), [
      'GET /api/v1/secret is served but not declared in the contract',
      'ALL /api/v1/anything is served but not declared in the contract',
    ]);
    assert.deepEqual(routeContractDifferences(ops, '/api/v1', v1Routers().slice(1)), ['GET /api/v1/health is declared in the contract but no router serves it']);
    const nested = Router();
    nested.use('/sub', extra);
    assert.throws(() => routeContractDifferences(ops, '/api/v1', [nested]), /mounted with a path/);
  });
});

describe("the README's endpoint table is the contract's", () => {
  test('every row matches an operation of /api/v1, and every operation has its row', () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('| Method | Path | Scope | Credits |'));
    const rows = section
      .split('\n')
      .slice(2)
      .filter((l, i, all) => l.startsWith('|') && all.slice(0, i).every((p) => p.startsWith('|')))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, '')));
    const scopeText = (o: Operation) => (o.auth === 'none' ? 'none (no key)' : o.scope === null ? 'any valid key' : o.scope);
    const expected = ops.filter((o) => o.surface.prefix === '/api/v1').map((o) => [o.method, o.expressPath.slice('/api/v1'.length), scopeText(o), String(o.credits)]);
    assert.deepEqual(rows, expected, `the README's table should read:\n${expected.map((r) => `| ${r[0]} | \`${r[1]}\` | ${r[2]} | ${r[3]} |`).join('\n')}`);
  });
});
