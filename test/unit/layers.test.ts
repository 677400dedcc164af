import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// Which way the dependencies of src/ point, read from the sources themselves (no build, no
// process). The daemon's layers, from the bottom: errors/log/paths; db and domain; views (JSON
// shapes of domain records); http (what both HTTP surfaces share); backend (the one client of
// the model backend, and its choice and supervision); gateway (guard, auth, limits); api (the
// routers); finetune; daemon (the wiring); cli on top. The bundled engine (src/engine) is a
// separate program that the daemon runs as a child: only the `hearth engine` command starts it.
//
// `import type` counts. It is erased from the JavaScript, so it cannot make a load-order bug,
// but it is still a dependency of the design: a module cannot be understood, moved or tested
// without the types it names (src/finetune reached into src/gateway for the backend client
// only through `import type`), and a type-only cycle ties two modules together all the same.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** One relative import of a source file, resolved to the file it names (repo-relative, posix). */
interface Import {
  from: string;
  specifier: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = posix.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The relative imports of a file: import and export declarations, and import() of a string literal. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    if (!specifier.startsWith('.')) return; // a package or node: builtin
    const to = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    found.push({ from: file, specifier, to, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const namedAllType =
        clause !== undefined && clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier.text, clause?.isTypeOnly === true || namedAllType);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] !== undefined && ts.isStringLiteralLike(node.arguments[0])) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const files = sourceFiles('src');
const imports = files.flatMap(importsOf);

/** True when `file` is `area` (a file) or lies under it (a folder). */
const within = (file: string, area: string) => file === area || file === `${area}.ts` || file.startsWith(`${area}/`);
const show = (i: Import) => `${i.from} imports ${i.typeOnly ? 'type ' : ''}'${i.specifier}' (${i.to})`;

/** Every import from one of `from` into one of `to`, as a line naming the file and the import. */
function crossings(from: string[], to: string[], except: (i: Import) => boolean = () => false): string[] {
  return imports.filter((i) => from.some((a) => within(i.from, a)) && to.some((a) => within(i.to, a)) && !except(i)).map(show);
}

describe('layers of src/', () => {
  it('the scan sees the sources and their imports (so that the rules below are checked against something)', () => {
    assert.ok(files.length > 100, `only ${files.length} source files found under ${join(ROOT, 'src')}`);
    const known = imports.find((i) => i.from === 'src/daemon/daemon.ts' && i.to === 'src/backend/backend-client.ts');
    assert.ok(known, 'src/daemon/daemon.ts imports the backend client');
    assert.ok(imports.some((i) => i.from === 'src/cli/main.ts' && i.to === 'src/cli/serve-command.ts'), 'a dynamic import() counts');
    assert.ok(imports.some((i) => i.typeOnly), 'type-only imports are recognised');
    const scanned = new Set(files);
    const unresolved = imports.filter((i) => !scanned.has(i.to)).map(show);
    assert.deepEqual(unresolved, [], 'every relative import names a source file under src/');
  });

  it("(a) outside the engine, only the `hearth engine` command imports the engine's HTTP layer (src/engine/http)", () => {
    const outside = files.filter((f) => !within(f, 'src/engine')).map((f) => f.split('/').slice(0, 2).join('/'));
    assert.deepEqual(
      crossings([...new Set(outside)], ['src/engine/http'], (i) => i.from === 'src/cli/engine-command.ts'),
      [],
      'src/api, src/gateway, src/finetune, src/backend and src/daemon share src/http with the engine, never src/engine/http',
    );
  });

  it('(b) src/backend imports nothing from the layers above it', () => {
    assert.deepEqual(crossings(['src/backend'], ['src/gateway', 'src/api', 'src/finetune', 'src/daemon', 'src/cli']), []);
  });

  it('(c) src/config, src/domain, src/db, src/views and src/http import nothing from the routers, the gateway, the CLI, the daemon, fine-tuning, the backend or the engine', () => {
    assert.deepEqual(
      crossings(['src/config', 'src/domain', 'src/db', 'src/views', 'src/http'], ['src/api', 'src/gateway', 'src/cli', 'src/daemon', 'src/finetune', 'src/backend', 'src/engine']),
      [],
    );
  });

  it('(d) the CLI does not import the HTTP routers (shared views live in src/views)', () => {
    assert.deepEqual(crossings(['src/cli'], ['src/api']), []);
  });

  it('(e) no import cycles among the files of src/, type-only imports included', () => {
    const edges = new Map<string, Import[]>();
    for (const i of imports) edges.set(i.from, [...(edges.get(i.from) ?? []), i]);
    const cycles: string[] = [];
    // Depth-first, iterative: a back edge to a file still on the path closes a cycle.
    const state = new Map<string, 'open' | 'done'>();
    for (const start of files) {
      if (state.has(start)) continue;
      const path: Array<{ file: string; next: number; via?: Import }> = [{ file: start, next: 0 }];
      state.set(start, 'open');
      while (path.length > 0) {
        const top = path.at(-1)!;
        const out = edges.get(top.file) ?? [];
        if (top.next === out.length) {
          state.set(top.file, 'done');
          path.pop();
          continue;
        }
        const edge = out[top.next++]!;
        const seen = state.get(edge.to);
        if (seen === 'open') {
          const at = path.findIndex((p) => p.file === edge.to);
          const loop = [...path.slice(at + 1).map((p) => p.via!), edge];
          cycles.push(loop.map(show).join(' → '));
        } else if (seen === undefined) {
          state.set(edge.to, 'open');
          path.push({ file: edge.to, next: 0, via: edge });
        }
      }
    }
    assert.deepEqual(cycles, []);
  });
});

it('layer areas match whole path segments', () => {
  assert.equal(within('src/engine/http/errors.ts', 'src/engine/http'), true);
  assert.equal(within('src/engine/httpx.ts', 'src/engine/http'), false);
  assert.equal(within('src/http/json-body.ts', 'src/engine/http'), false);
  assert.equal(within('src/errors.ts', 'src/errors'), true);
});
