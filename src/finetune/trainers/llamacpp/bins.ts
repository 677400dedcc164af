// Where the llama.cpp shared libraries of the pinned node-llama-cpp live. node-llama-cpp ships
// them in per-platform packages (@node-llama-cpp/linux-x64, …-cuda, …-vulkan) whose entry
// module exports getBinsDir(); we ask the same packages, so the trainer uses exactly the
// binaries the serving engine uses, and never a second build.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { HearthError } from '../../../errors.js';

export type BinsFlavor = 'cpu' | 'cuda' | 'vulkan';

export interface LlamaBins {
  flavor: BinsFlavor;
  /** Folder holding libllama*.so, libggml-base.so and the ggml backend plugins. */
  dir: string;
  /** Extra runtime libraries (the CUDA runtime in …-cuda-ext), loaded before libllama. */
  extDirs: string[];
  llamaLib: string;
  ggmlBaseLib: string;
}

const require = createRequire(import.meta.url);

/** The node-llama-cpp version whose llama.cpp release the FFI struct layouts were written for. */
export const PINNED_NODE_LLAMA_CPP_VERSION = '3.22.1';

/** The installed node-llama-cpp package's folder. */
export function nodeLlamaCppRoot(): string {
  // The package's exports hide package.json, so locate it from the resolved entry point.
  return join(dirname(require.resolve('node-llama-cpp')), '..'); // <root>/dist/index.js
}

export function installedNodeLlamaCppVersion(): string {
  return (JSON.parse(readFileSync(join(nodeLlamaCppRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function platformPackage(flavor: BinsFlavor): string {
  const os = process.platform === 'linux' ? 'linux' : process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : process.platform;
  const base = `${os}-${process.arch}`;
  return flavor === 'cpu' ? `@node-llama-cpp/${base}` : `@node-llama-cpp/${base}-${flavor}`;
}

async function packageBinsDir(pkg: string): Promise<string | undefined> {
  let mod: { getBinsDir?: () => { binsDir: string; packageVersion: string } };
  try {
    mod = (await import(pkg)) as typeof mod;
  } catch {
    return undefined;
  }
  const info = mod.getBinsDir?.();
  if (info === undefined) return undefined;
  // A platform package of another node-llama-cpp version would carry another llama.cpp ABI.
  if (info.packageVersion !== installedNodeLlamaCppVersion()) return undefined;
  // bins/ holds one build folder (e.g. bins/linux-x64/), marked by its build metadata file.
  const sub = readdirSync(info.binsDir, { withFileTypes: true }).find(
    (d) => d.isDirectory() && existsSync(join(info.binsDir, d.name, '_nlcBuildMetadata.json')),
  );
  return sub === undefined ? info.binsDir : join(info.binsDir, sub.name);
}

function findLib(dir: string, re: RegExp): string | undefined {
  const name = readdirSync(dir).find((f) => re.test(f));
  return name === undefined ? undefined : join(dir, name);
}

async function tryFlavor(flavor: BinsFlavor): Promise<LlamaBins | undefined> {
  const dir = await packageBinsDir(platformPackage(flavor));
  if (dir === undefined) return undefined;
  const llamaLib = findLib(dir, /^(lib)?llama(\.[a-z]+)?\.v[\d.]+\.(so|dylib|dll)$|^(lib)?llama\.(so|dylib|dll)$/);
  const ggmlBaseLib = findLib(dir, /^(lib)?ggml-base\.(so|dylib|dll)$/);
  if (llamaLib === undefined || ggmlBaseLib === undefined) return undefined;
  const extDirs: string[] = [];
  if (flavor === 'cuda') {
    const ext = await packageBinsDir(`${platformPackage('cuda')}-ext`);
    if (ext !== undefined) extDirs.push(ext);
  }
  return { flavor, dir, extDirs, llamaLib, ggmlBaseLib };
}

/** NVIDIA's device nodes exist only where a driver is loaded; CUDA libraries need one. */
function nvidiaDriverPresent(): boolean {
  return existsSync('/dev/nvidiactl') || existsSync('/proc/driver/nvidia/version');
}

/**
 * gpu 'off' takes the CPU build. 'auto' takes the CUDA build where an NVIDIA driver is present
 * and the package is installed, else the CPU build. Vulkan is only used when asked for by name:
 * llama.cpp's backward ops are least covered there, and it was never checked.
 */
export async function resolveLlamaBins(gpu: 'off' | 'auto' | BinsFlavor): Promise<LlamaBins> {
  const order: BinsFlavor[] =
    gpu === 'off' || gpu === 'cpu' ? ['cpu'] : gpu === 'auto' ? (nvidiaDriverPresent() ? ['cuda', 'cpu'] : ['cpu']) : [gpu];
  for (const flavor of order) {
    const bins = await tryFlavor(flavor);
    if (bins !== undefined) return bins;
  }
  throw new HearthError('unavailable', `no llama.cpp binaries of node-llama-cpp ${PINNED_NODE_LLAMA_CPP_VERSION} for ${platformPackage(order[0] ?? 'cpu')}`, {
    code: 'llama_binaries_missing',
  });
}
