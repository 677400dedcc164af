import { invalidRequest } from '../../errors.js';

/**
 * The subset of Go's text/template that Ollama prompt templates use: `{{ .Field }}`,
 * `{{ $.Field }}`, `if / else if / else / end`, `range .List / end`, the functions `eq`, `ne`,
 * `and`, `or`, `not`, string literals, trim markers `{{-` `-}}` and comments. Anything else is
 * refused when the template is parsed, so a bad template is a 400 at create time rather than a
 * surprise at chat time.
 */
export type TemplateData = Record<string, unknown>;

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'print'; expr: Expr }
  | { kind: 'if'; branches: Array<{ cond: Expr; body: Node[] }>; otherwise: Node[] }
  | { kind: 'range'; list: Expr; body: Node[]; otherwise: Node[] };

type Expr =
  | { kind: 'field'; root: 'dot' | 'dollar'; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'call'; fn: string; args: Expr[] };

const functions: Record<string, (args: unknown[]) => unknown> = {
  eq: (a) => a.slice(1).some((b) => b === a[0]),
  ne: (a) => a[0] !== a[1],
  and: (a) => a.reduce((acc: unknown, v) => (truthy(acc) ? v : acc), true),
  or: (a) => a.find(truthy) ?? a[a.length - 1],
  not: (a) => !truthy(a[0]),
  len: (a) => (Array.isArray(a[0]) || typeof a[0] === 'string' ? a[0].length : 0),
};

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
    return renderNodes(this.nodes, data, data);
  }

  /** True when the template iterates over .Messages, i.e. it renders whole conversations. */
  get usesMessages(): boolean {
    return /\.Messages\b/.test(this.source);
  }
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
      if (keyword === 'if') nodes.push(this.parseIf(t.body.slice(2)));
      else if (keyword === 'range') nodes.push(this.parseRange(t.body.slice(5)));
      else if (keyword === 'end' || keyword === 'else') throw fail(`unexpected {{ ${t.body} }}`);
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

  private parseRange(listSource: string): Node {
    const list = parseExpr(listSource);
    const body = this.parseBlock(['else', 'end']);
    let otherwise: Node[] = [];
    const t = this.tokens[this.i++] as Token & { kind: 'action' };
    if (t.body === 'else') {
      otherwise = this.parseBlock(['end']);
      this.i++;
    }
    return { kind: 'range', list, body, otherwise };
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

function evaluate(expr: Expr, dot: unknown, root: TemplateData): unknown {
  switch (expr.kind) {
    case 'string':
      return expr.value;
    case 'call':
      return (functions[expr.fn] as (a: unknown[]) => unknown)(expr.args.map((a) => evaluate(a, dot, root)));
    case 'field': {
      let v: unknown = expr.root === 'dot' ? dot : root;
      for (const key of expr.path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
      return v;
    }
  }
}

function renderNodes(nodes: Node[], dot: unknown, root: TemplateData): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'print') {
      const v = evaluate(node.expr, dot, root);
      out += v === undefined || v === null ? '' : String(v);
    } else if (node.kind === 'if') {
      const branch = node.branches.find((b) => truthy(evaluate(b.cond, dot, root)));
      out += renderNodes(branch ? branch.body : node.otherwise, dot, root);
    } else {
      const list = evaluate(node.list, dot, root);
      if (Array.isArray(list) && list.length > 0) for (const item of list) out += renderNodes(node.body, item, root);
      else out += renderNodes(node.otherwise, dot, root);
    }
  }
  return out;
}
