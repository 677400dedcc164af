// Engine overhead benchmark: decode tokens/s and time to first token through the engine's HTTP
// API (streaming /api/generate) against node-llama-cpp called in-process on the same model file,
// prompt, threads, context size and sampler. Both sides run side by side, interleaved, and the
// figures are medians of per-round ratios: the machine is shared and noisy, so only a comparison
// made within the same few hundred milliseconds means anything. See bench/README.md.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEngineProcess, uploadBlob, type EngineProcess } from '../test/helpers/engine-process.js';
import { testModelPath } from '../test/helpers/test-model.js';
import { BlobStore } from '../src/engine/store/blob-store.js';
import { boundedRun } from './lib/bounded-run.js';
import { ownCpuMs, processCpuMs, withCpu } from './lib/cpu.js';
import { EngineClient, type EngineTiming, type GenerateParams } from './lib/engine-client.js';
import { InProcessModel } from './lib/in-process.js';
import { decodeTokensPerSecond, median, summarize, ttftMs, type GenerationTiming, type Summary } from './lib/stats.js';
import { runMain } from './lib/run-main.js';

const usage = `Usage: npm run bench:engine -- [options]

  --rounds N          measured rounds, each one engine and one in-process generation  (20)
  --warmup N          unmeasured rounds first                                         (2)
  --tokens N          tokens generated per request (num_predict)                      (128)
  --prompt-tokens N   prompt length in tokens, roughly                                (150)
  --threads N         llama.cpp threads on both sides                                 (1)
  --num-ctx N         context size on both sides                                      (1024)
  --n-embd N --n-layer N --n-head N --n-ff N   generated test model's size  (512, 8, 8, 1408)
  --model PATH        benchmark this GGUF instead of the generated test model
  --threshold X       ratio below which a figure FAILs                                (0.95)
  --timeout S         bound on the whole run, seconds                                 (900)
  --check             exit 1 when a ratio is below the threshold
`;

interface Config {
  rounds: number;
  warmup: number;
  tokens: number;
  promptTokens: number;
  threads: number;
  numCtx: number;
  model: { nEmbd: number; nLayer: number; nHead: number; nFf: number } | { path: string };
  threshold: number;
  timeoutS: number;
  check: boolean;
}

// A fixed greedy seed: temperature 0 makes it irrelevant, but both sides must get the same options.
const SEED = 1;
const MODEL_NAME = 'bench';

function parseConfig(argv: string[]): Config | undefined {
  const int = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      rounds: int, warmup: int, tokens: int, 'prompt-tokens': int, threads: int, 'num-ctx': int,
      'n-embd': int, 'n-layer': int, 'n-head': int, 'n-ff': int, model: int, threshold: int, timeout: int,
      check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return undefined;
  const n = (name: keyof typeof v, fallback: number, min = 1): number => {
    const raw = v[name];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min} (got "${String(raw)}")`);
    return value;
  };
  const threshold = Number(v.threshold ?? 0.95);
  if (!(threshold > 0)) throw new Error(`--threshold must be a positive number (got "${v.threshold}")`);
  const config: Config = {
    // 20, not fewer: per-round ratios spread ±4 % here, and the median must be steady enough to gate on.
    rounds: n('rounds', 20),
    warmup: n('warmup', 2, 0),
    tokens: n('tokens', 128, 2),
    promptTokens: n('prompt-tokens', 150),
    threads: n('threads', 1),
    numCtx: n('num-ctx', 1024),
    model: v.model !== undefined ? { path: v.model } : { nEmbd: n('n-embd', 512), nLayer: n('n-layer', 8), nHead: n('n-head', 8), nFf: n('n-ff', 1408) },
    threshold,
    timeoutS: n('timeout', 900),
    check: v.check ?? false,
  };
  // Room for the prompt, the generated tokens and a few tokens of slack for the round prefix.
  if (config.promptTokens + config.tokens + 16 > config.numCtx) throw new Error('--num-ctx must exceed --prompt-tokens + --tokens + 16');
  return config;
}

// Words the test model's vocabulary has as single pieces, so the prompt's token count is predictable.
const FILLER = 'the secret word is hello and you can ask the model what it was before it came back to tell the people here about the water and the house'.split(' ');

/**
 * A prompt maker: round number first, then filler up to about `target` tokens. The number leads
 * so that consecutive prompts differ from their first token: neither side gets a prefix-cache hit,
 * and TTFT is prompt processing of the whole prompt on both.
 */
function promptMaker(tokenize: (text: string) => readonly unknown[], target: number): (round: number) => string {
  let filler = '';
  for (let i = 0; tokenize(`0. ${filler}`).length < target; i++) filler += (i > 0 ? ' ' : '') + FILLER[i % FILLER.length];
  return (round) => `${round}. ${filler}`;
}

interface StartedEngine {
  engine: EngineProcess;
  client: EngineClient;
  /** The model file the engine serves, in its own store. */
  blobPath: string;
}

async function startEngineWithModel(modelPath: string, c: Config, signal: AbortSignal): Promise<StartedEngine> {
  // --parallel 1: one slot, so the engine reuses one sequence across rounds as the in-process side does.
  const engine = await startEngineProcess(['--threads', String(c.threads), '--parallel', '1', '--num-ctx', String(c.numCtx), '--keep-alive=-1']);
  // Safety net: should this process die without reaching its cleanup, the engine must not outlive it.
  process.once('exit', () => engine.child.kill('SIGKILL'));
  const client = new EngineClient(engine.url);
  try {
    if (!engine.url.startsWith('http://127.0.0.1:')) throw new Error(`engine is not on loopback: ${engine.url}`);
    const digest = await uploadBlob(engine.url, await readFile(modelPath));
    await client.postJson('/api/create', { model: MODEL_NAME, files: { 'model.gguf': digest }, stream: false }, signal);
    // An empty prompt loads the model, so the first timed request does not pay for loading.
    await client.postJson('/api/generate', { model: MODEL_NAME, keep_alive: -1, options: { num_ctx: c.numCtx } }, signal);
    return { engine, client, blobPath: new BlobStore(join(engine.modelsDir, 'blobs')).pathOf(digest) };
  } catch (err) {
    client.close();
    await engine.stop();
    throw err;
  }
}

type WithCpu<T> = T & { cpuMs: number };

interface Sides {
  engine: (prompt: string) => Promise<WithCpu<EngineTiming>>;
  inProcess: (prompt: string) => Promise<WithCpu<GenerationTiming>>;
}

interface RoundResult {
  engine: WithCpu<EngineTiming>;
  inProcess: WithCpu<GenerationTiming>;
}

/**
 * Runs every round: one engine and one in-process generation of the same prompt, back to back.
 * The order alternates each round (E I, I E, …), so neither side always runs right after the
 * other's work (caches, CPU frequency, a neighbour's burst).
 */
async function runRounds(count: number, firstRound: number, sides: Sides, prompt: (round: number) => string): Promise<RoundResult[]> {
  const results: RoundResult[] = [];
  for (let i = 0; i < count; i++) {
    const p = prompt(firstRound + i);
    let engine: RoundResult['engine'];
    let inProcess: RoundResult['inProcess'];
    if (i % 2 === 0) {
      engine = await sides.engine(p);
      inProcess = await sides.inProcess(p);
    } else {
      inProcess = await sides.inProcess(p);
      engine = await sides.engine(p);
    }
    checkSameWork(engine, inProcess, firstRound + i);
    results.push({ engine, inProcess });
  }
  return results;
}

/** The comparison is only fair if both sides generated the very same tokens. */
function checkSameWork(engine: GenerationTiming, inProcess: GenerationTiming, round: number): void {
  if (engine.tokens !== inProcess.tokens) {
    throw new Error(`round ${round}: the engine generated ${engine.tokens} tokens, in-process ${inProcess.tokens}; their settings differ`);
  }
  if (engine.text !== inProcess.text) throw new Error(`round ${round}: the sides generated different text; their settings differ`);
}

interface Figure {
  name: string;
  unit: string;
  engine: Summary;
  inProcess: Summary;
  /** Median of the per-round ratios, oriented so that ≥ 1 is parity or better. */
  ratio: Summary;
}

function figures(rounds: RoundResult[]): Figure[] {
  const decode = rounds.map((r) => ({ e: decodeTokensPerSecond(r.engine), i: decodeTokensPerSecond(r.inProcess) }));
  const ttft = rounds.map((r) => ({ e: ttftMs(r.engine), i: ttftMs(r.inProcess) }));
  return [
    { name: 'decode', unit: 'tok/s', engine: summarize(decode.map((d) => d.e)), inProcess: summarize(decode.map((d) => d.i)), ratio: summarize(decode.map((d) => d.e / d.i)) },
    { name: 'TTFT', unit: 'ms', engine: summarize(ttft.map((t) => t.e)), inProcess: summarize(ttft.map((t) => t.i)), ratio: summarize(ttft.map((t) => t.i / t.e)) },
  ];
}

const fmt = (x: number, digits: number) => x.toFixed(digits).padStart(9);
const spread = (s: Summary, digits: number) => `${fmt(s.median, digits)} [${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)}]`;

function report(c: Config, modelLabel: string, promptTokens: number, tokens: number, figs: Figure[]): boolean {
  console.log(`model ${modelLabel}; prompt ${promptTokens} tokens, ${tokens} generated; num_ctx ${c.numCtx}; threads ${c.threads}; ${c.rounds} rounds after ${c.warmup} warm-up`);
  console.log('                 engine (HTTP) [p25–p75]      in-process [p25–p75]       ratio [p25–p75]');
  let pass = true;
  for (const f of figs) {
    const ok = f.ratio.median >= c.threshold;
    pass &&= ok;
    const digits = f.unit === 'ms' ? 1 : 0;
    const label = `${f.name} ${f.unit}`.padEnd(13);
    console.log(`${label}${spread(f.engine, digits).padStart(28)}${spread(f.inProcess, digits).padStart(26)}${spread(f.ratio, 3).padStart(26)}  ${ok ? 'PASS' : 'FAIL'} (≥ ${c.threshold})`);
  }
  console.log('ratios: decode = engine / in-process tok/s; TTFT = in-process / engine ms; ≥ 1 is parity');
  return pass;
}

/** Where a loss would come from: the engine's own decode figure (before delivery), and CPU per request. */
function reportDiagnostics(rounds: RoundResult[]): void {
  const reported = median(rounds.map((r) => r.engine.reportedDecodeTps));
  const cpu = (side: 'engine' | 'inProcess') => rounds.reduce((sum, r) => sum + r[side].cpuMs, 0) / rounds.length;
  console.log(`engine-reported decode (eval_count / eval_duration, before delivery): ${reported.toFixed(0)} tok/s`);
  console.log(`CPU per request (mean, 10 ms ticks for the engine): engine ${cpu('engine').toFixed(0)} ms, in-process ${cpu('inProcess').toFixed(0)} ms, ratio ${(cpu('engine') / cpu('inProcess')).toFixed(3)}`);
}

async function describeModel(c: Config, path: string): Promise<string> {
  const mb = ((await stat(path)).size / 1e6).toFixed(0);
  if ('path' in c.model) return `${path} (${mb} MB)`;
  const m = c.model;
  return `test model nEmbd ${m.nEmbd} nLayer ${m.nLayer} nHead ${m.nHead} nFf ${m.nFf} (${mb} MB F32)`;
}

async function main(argv: string[]): Promise<number> {
  const c = parseConfig(argv);
  if (!c) {
    process.stdout.write(usage);
    return 0;
  }
  // Everything below is bounded by this one signal: the run's timeout, or Ctrl-C.
  const run = boundedRun(c.timeoutS);

  let inProcess: InProcessModel | undefined;
  let started: StartedEngine | undefined;
  try {
    const modelPath = 'path' in c.model ? c.model.path : await testModelPath(c.model);
    started = await startEngineWithModel(modelPath, c, run.signal);
    const { client } = started;
    // The very file the engine serves, not the original: two copies of the same bytes decoded up
    // to 15 % apart here (their page-cache layouts differ), while one file gives both sides the
    // same memory to stream the weights from.
    inProcess = await InProcessModel.load(started.blobPath, { numCtx: c.numCtx, threads: c.threads });
    const reference = inProcess;
    const prompt = promptMaker((t) => reference.tokenize(t), c.promptTokens);
    const params = (p: string): GenerateParams => ({ model: MODEL_NAME, prompt: p, numPredict: c.tokens, numCtx: c.numCtx, seed: SEED });
    const enginePid = started.engine.child.pid as number;
    const sides: Sides = {
      engine: (p) => withCpu(() => processCpuMs(enginePid), () => client.generate(params(p), run.signal)),
      inProcess: (p) => withCpu(ownCpuMs, () => reference.generate(params(p), run.signal)),
    };
    await runRounds(c.warmup, 1, sides, prompt);
    const rounds = await runRounds(c.rounds, 1 + c.warmup, sides, prompt);
    const promptTokens = median(rounds.map((_, i) => reference.tokenize(prompt(1 + c.warmup + i)).length));
    const pass = report(c, await describeModel(c, modelPath), promptTokens, rounds[0]?.engine.tokens ?? 0, figures(rounds));
    reportDiagnostics(rounds);
    return c.check && !pass ? 1 : 0;
  } finally {
    run.end();
    started?.client.close();
    await started?.engine.stop();
    await inProcess?.dispose();
  }
}

runMain(main);
