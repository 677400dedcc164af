import { invalidRequest } from '../../errors.js';

/**
 * The subset of Go's text/template that Ollama prompt templates use: `{{ .Field }}`,
 * `{{ $.Field }}`, variables (`{{ $x := … }}`, `{{ $x = … }}`, `{{ $x.Field }}`),
 * `if / else if / else / end`, `range .List / end` and `range $i, $m := .List`, the functions
 * `eq`, `ne`, `and`, `or`, `not`, `len`, `slice`, `index`, `json`, string and integer literals,
 * trim markers `{{-` `-}}` and comments. Anything else is refused when the template is parsed,
 * so a bad template is a 400 at create time rather than a surprise at chat time.
 *
 * Data is plain JSON as Ollama's API carries it: a field is looked up as written (`.Role`), else
 * with its first letter lower-cased (`.Function.Name` on a tool's `function.name`), else in
 * snake case (`.ToolCalls` on `tool_calls`). An object or list prints as compact JSON, as Ollama's
 * tools and tool-call arguments print themselves.
 */
export type TemplateData = Record<string, unknown>;

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'print'; expr: Expr }
  | { kind: 'set'; name: string; declare: boolean; expr: Expr }
  | { kind: 'if'; branches: Array<{ cond: Expr; body: Node[] }>; otherwise: Node[] }
  | { kind: 'range'; list: Expr; keyVar?: string; valueVar?: string; body: Node[]; otherwise: Node[] };

type Expr =
  | { kind: 'field'; root: 'dot' | 'dollar'; path: string[] }
  | { kind: 'var'; name: string; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; fn: string; args: Expr[] };

/** Variables in scope: each `if`/`range` body opens a scope, as in Go, and `$` is the data. */
class Scope {
  private readonly vars = new Map<string, unknown>();
  constructor(private readonly parent?: Scope) {}
  child(): Scope {
    return new Scope(this);
  }
  declare(name: string, value: unknown): void {
    this.vars.set(name, value);
  }
  assign(name: string, value: unknown): void {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.vars.has(name)) return void s.vars.set(name, value);
    }
    throw fail(`undefined variable "$${name}"`);
  }
  get(name: string): unknown {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.vars.has(name)) return s.vars.get(name);
    throw fail(`undefined variable "$${name}"`);
  }
}

function lengthOf(v: unknown): number {
  // An absent list is Go's nil slice: length 0.
  if (v === undefined || v === null) return 0;
  if (Array.isArray(v) || typeof v === 'string') return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw fail(`len of ${typeof v}`);
}

function integer(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw fail(`${what}: not an integer`);
  return v;
}

const functions: Record<string, (args: unknown[]) => unknown> = {
  eq: (a) => a.slice(1).some((b) => b === a[0]),
  ne: (a) => a[0] !== a[1],
  and: (a) => a.reduce((acc: unknown, v) => (truthy(acc) ? v : acc), true),
  or: (a) => a.find(truthy) ?? a[a.length - 1],
  not: (a) => !truthy(a[0]),
  len: (a) => lengthOf(a[0]),
  /** `slice x i j`: the items (or characters) from i up to j, as Go's. */
  slice: (a) => {
    const [list, ...bounds] = a;
    if (!Array.isArray(list) && typeof list !== 'string') throw fail('slice of a value that is not a list or string');
    const [from, to] = bounds.map((b) => integer(b, 'slice index'));
    const end = to ?? list.length;
    if (from !== undefined && (from < 0 || from > end || end > list.length)) throw fail(`slice index out of range [${from}:${end}]`);
    return list.slice(from ?? 0, end);
  },
  index: (a) => {
    let v = a[0];
    for (const key of a.slice(1)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(key)] : undefined;
    return v;
  },
  json: (a) => JSON.stringify(a[0] ?? null),
};

/** A field of a JSON object, by its Go name (`ToolCalls`) or its JSON name (`tool_calls`, `function`). */
function fieldOf(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (key in o) return o[key];
  const lower = key[0]!.toLowerCase() + key.slice(1);
  if (lower in o) return o[lower];
  const snake = key.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();
  return o[snake];
}

export class GoTemplate {
  private constructor(private readonly nodes: Node[], readonly source: string) {}

  static parse(source: string): GoTemplate {
    const tokens = tokenize(source);
    const parser = new Parser(tokens);
    const nodes = parser.parseBlock([]);
    if (parser.pending()) throw fail(`unexpected {{ ${parser.peekAction()} }}`);
    return new GoTemplate(nodes, source);
  }

  render(data: TemplateData): string {
    return renderNodes(this.nodes, data, data, new Scope());
  }

  /** True when the template iterates over .Messages, i.e. it renders whole conversations. */
  get usesMessages(): boolean {
    return /\.Messages\b/.test(this.source);
  }

  /** True when the template renders the tools a request offers: the model "supports tools", as Ollama decides. */
  get usesTools(): boolean {
    return /\.Tools\b/.test(this.source);
  }

  /**
   * The text a model writes before a tool call's JSON, as the template renders past calls: the
   * text that opens the `range .ToolCalls` body before its first "{" (`<tool_call>{"name": …`),
   * else the text right before that range in the same block (`<tool_call>\n{{ range .ToolCalls }}`).
   * "{" when there is none: the call is a bare JSON object. Undefined when the template renders
   * no tool calls.
   */
  get toolCallTag(): string | undefined {
    const found = findToolCallRange(this.nodes);
    if (!found) return undefined;
    const first = found.range.body[0];
    if (first?.kind === 'text' && first.text.includes('{')) {
      const before = first.text.slice(0, first.text.indexOf('{')).trim();
      if (before) return before;
    }
    if (found.before?.kind === 'text') {
      const lines = found.before.text.trim().split('\n');
      const last = (lines[lines.length - 1] ?? '').trim();
      if (last) return last;
    }
    return '{';
  }
}

type RangeNode = Node & { kind: 'range' };

function findToolCallRange(nodes: Node[]): { range: RangeNode; before: Node | undefined } | undefined {
  for (const [i, node] of nodes.entries()) {
    if (node.kind === 'range') {
      const list = node.list;
      if ((list.kind === 'field' || list.kind === 'var') && list.path[list.path.length - 1] === 'ToolCalls') return { range: node, before: nodes[i - 1] };
    }
    const inner =
      node.kind === 'if' ? [...node.branches.map((b) => b.body), node.otherwise] : node.kind === 'range' ? [node.body, node.otherwise] : [];
    for (const block of inner) {
      const found = findToolCallRange(block);
      if (found) return found;
    }
  }
  return undefined;
}

function fail(why: string) {
  return invalidRequest(`template: ${why}`, 'invalid_template');
}

type Token = { kind: 'text'; text: string } | { kind: 'action'; body: string };

function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open < 0) {
      out.push({ kind: 'text', text: source.slice(pos) });
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw fail('unclosed action "{{"');
    let text = source.slice(pos, open);
    let body = source.slice(open + 2, close);
    if (body.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    pos = close + 2;
    if (body.endsWith('-')) {
      body = body.slice(0, -1);
      const rest = /^\s*/.exec(source.slice(pos));
      pos += rest ? rest[0].length : 0;
    }
    if (text) out.push({ kind: 'text', text });
    body = body.trim();
    if (!(body.startsWith('/*') && body.endsWith('*/'))) out.push({ kind: 'action', body });
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  pending(): boolean {
    return this.i < this.tokens.length;
  }

  peekAction(): string {
    const t = this.tokens[this.i];
    return t?.kind === 'action' ? t.body : '';
  }

  /** Parses nodes until one of `stops` (an action keyword) is next; does not consume it. */
  parseBlock(stops: string[]): Node[] {
    const nodes: Node[] = [];
    while (this.i < this.tokens.length) {
      const t = this.tokens[this.i] as Token;
      if (t.kind === 'text') {
        nodes.push({ kind: 'text', text: t.text });
        this.i++;
        continue;
      }
      const keyword = t.body.split(/\s+/)[0] ?? '';
      if (stops.includes(keyword)) return nodes;
      this.i++;
      const set = /^\$([A-Za-z_][A-Za-z0-9_]*)\s*(:?=)\s*(.*)$/s.exec(t.body);
      if (keyword === 'if') nodes.push(this.parseIf(t.body.slice(2)));
      else if (keyword === 'range') nodes.push(this.parseRange(t.body.slice(5)));
      else if (keyword === 'end' || keyword === 'else') throw fail(`unexpected {{ ${t.body} }}`);
      else if (set) nodes.push({ kind: 'set', name: set[1] as string, declare: set[2] === ':=', expr: parseExpr(set[3] as string) });
      else nodes.push({ kind: 'print', expr: parseExpr(t.body) });
    }
    if (stops.length > 0) throw fail('missing {{ end }}');
    return nodes;
  }

  private parseIf(condSource: string): Node {
    const branches = [{ cond: parseExpr(condSource), body: this.parseBlock(['else', 'end']) }];
    let otherwise: Node[] = [];
    for (;;) {
      const t = this.tokens[this.i++] as Token & { kind: 'action' };
      if (t.body === 'end') break;
      const rest = t.body.slice(4).trim();
      if (rest.startsWith('if ')) {
        branches.push({ cond: parseExpr(rest.slice(3)), body: this.parseBlock(['else', 'end']) });
      } else {
        otherwise = this.parseBlock(['end']);
        this.i++;
        break;
      }
    }
    return { kind: 'if', branches, otherwise };
  }

  private parseRange(source: string): Node {
    // `range $v := .List` or `range $i, $v := .List`: with one variable it takes the item.
    const vars = /^\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*)?:=(.*)$/s.exec(source);
    const list = parseExpr(vars ? (vars[3] as string) : source);
    const [keyVar, valueVar] = vars ? (vars[2] === undefined ? [undefined, vars[1]] : [vars[1], vars[2]]) : [undefined, undefined];
    const body = this.parseBlock(['else', 'end']);
    let otherwise: Node[] = [];
    const t = this.tokens[this.i++] as Token & { kind: 'action' };
    if (t.body === 'else') {
      otherwise = this.parseBlock(['end']);
      this.i++;
    }
    return { kind: 'range', list, keyVar, valueVar, body, otherwise };
  }
}

function parseExpr(source: string): Expr {
  const words = [...source.matchAll(/"(?:[^"\\]|\\.)*"|\(|\)|[^\s()]+/g)].map((m) => m[0]);
  let pos = 0;
  const term = (): Expr => {
    const w = words[pos++];
    if (w === undefined) throw fail(`incomplete expression "${source.trim()}"`);
    if (w === '(') {
      const inner = call();
      if (words[pos++] !== ')') throw fail(`missing ")" in "${source.trim()}"`);
      return inner;
    }
    if (w.startsWith('"')) return { kind: 'string', value: JSON.parse(w) as string };
    if (w === '.') return { kind: 'field', root: 'dot', path: [] };
    if (/^\$?(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(w)) {
      const dollar = w.startsWith('$');
      return { kind: 'field', root: dollar ? 'dollar' : 'dot', path: w.slice(dollar ? 2 : 1).split('.') };
    }
    if (w === '$') return { kind: 'field', root: 'dollar', path: [] };
    const v = /^\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/.exec(w);
    if (v) return { kind: 'var', name: v[1] as string, path: v[2] ? (v[2] as string).slice(1).split('.') : [] };
    if (/^-?\d+$/.test(w)) return { kind: 'number', value: Number(w) };
    if (functions[w]) return { kind: 'call', fn: w, args: [] };
    throw fail(`unsupported "${w}" in "${source.trim()}"`);
  };
  const call = (): Expr => {
    const head = term();
    if (head.kind !== 'call') return head;
    while (pos < words.length && words[pos] !== ')') head.args.push(term());
    return head;
  };
  const expr = call();
  if (pos !== words.length) throw fail(`unexpected "${words[pos]}" in "${source.trim()}"`);
  return expr;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
}

function evaluate(expr: Expr, dot: unknown, root: TemplateData, scope: Scope): unknown {
  switch (expr.kind) {
    case 'string':
    case 'number':
      return expr.value;
    case 'call':
      return (functions[expr.fn] as (a: unknown[]) => unknown)(expr.args.map((a) => evaluate(a, dot, root, scope)));
    case 'var':
      return expr.path.reduce(fieldOf, scope.get(expr.name));
    case 'field':
      return expr.path.reduce(fieldOf, expr.root === 'dot' ? dot : root);
  }
}

function printed(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function renderNodes(nodes: Node[], dot: unknown, root: TemplateData, scope: Scope): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'print') out += printed(evaluate(node.expr, dot, root, scope));
    else if (node.kind === 'set') {
      const v = evaluate(node.expr, dot, root, scope);
      if (node.declare) scope.declare(node.name, v);
      else scope.assign(node.name, v);
    } else if (node.kind === 'if') {
      const branch = node.branches.find((b) => truthy(evaluate(b.cond, dot, root, scope)));
      out += renderNodes(branch ? branch.body : node.otherwise, dot, root, scope.child());
    } else {
      const list = evaluate(node.list, dot, root, scope);
      if (Array.isArray(list) && list.length > 0) {
        list.forEach((item, i) => {
          const inner = scope.child();
          if (node.keyVar) inner.declare(node.keyVar, i);
          if (node.valueVar) inner.declare(node.valueVar, item);
          out += renderNodes(node.body, item, root, inner);
        });
      } else out += renderNodes(node.otherwise, dot, root, scope.child());
    }
  }
  return out;
}
