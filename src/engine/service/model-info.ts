import { GgufFileType, readGgufFileInfo } from 'node-llama-cpp';

/** What /api/tags, /api/show and /api/ps report about a GGUF, read once per blob digest. */
export interface ModelInfo {
  architecture: string;
  /** "model" or "adapter" (general.type). */
  type: string;
  parameterCount: number;
  parameterSize: string;
  quantization: string;
  contextLength: number | undefined;
  chatTemplate: string | undefined;
  /** Flat metadata ("llama.block_count": 2 …), long arrays left out, as Ollama's model_info does. */
  metadata: Record<string, unknown>;
  tensors: Array<{ name: string; dims: number[] }>;
}

export function formatParameterSize(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function flatten(value: unknown, prefix: string, out: Record<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value)) {
    // Vocabularies run to hundreds of thousands of entries; Ollama omits them too.
    out[prefix] = value.length > 64 ? null : value;
  } else {
    out[prefix] = typeof value === 'bigint' ? Number(value) : value;
  }
}

export async function readModelInfo(path: string): Promise<ModelInfo> {
  const info = await readGgufFileInfo(path, { readTensorInfo: true, ignoreKeys: [] });
  const metadata: Record<string, unknown> = {};
  flatten(info.metadata, '', metadata);
  const general = (info.metadata as { general?: { architecture?: string; type?: string; file_type?: number } }).general ?? {};
  const architecture = String(general.architecture ?? 'unknown');
  const tensors = (info.fullTensorInfo ?? []).map((t) => ({ name: t.name, dims: t.dimensions.map(Number) }));
  const parameterCount = tensors.reduce((sum, t) => sum + t.dims.reduce((p, d) => p * d, 1), 0);
  const fileType = general.file_type;
  const quantization = fileType === undefined ? 'unknown' : (GgufFileType[fileType] ?? String(fileType)).replace(/^(MOSTLY|ALL)_/, '');
  const ctx = metadata[`${architecture}.context_length`];
  return {
    architecture,
    type: String(general.type ?? 'model'),
    parameterCount,
    parameterSize: formatParameterSize(parameterCount),
    quantization,
    contextLength: typeof ctx === 'number' ? ctx : undefined,
    chatTemplate: typeof metadata['tokenizer.chat_template'] === 'string' ? (metadata['tokenizer.chat_template'] as string) : undefined,
    metadata,
    tensors,
  };
}

/**
 * Whether a Jinja chat template renders the tools a request offers: its code (inside `{{ }}` or
 * `{% %}`, string literals aside) uses the `tools` variable, as Qwen's, Llama 3.1's and Mistral's do.
 */
export function jinjaUsesTools(template: string): boolean {
  for (const [, code = ''] of template.matchAll(/\{[{%]([\s\S]*?)[%}]\}/g)) {
    if (/\btools\b/.test(code.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ''))) return true;
  }
  return false;
}

/** Metadata of immutable, content-addressed blobs never changes: cache by digest. */
export class ModelInfoCache {
  private readonly cache = new Map<string, Promise<ModelInfo>>();

  get(digest: string, path: string): Promise<ModelInfo> {
    let info = this.cache.get(digest);
    if (!info) {
      info = readModelInfo(path);
      info.catch(() => this.cache.delete(digest));
      this.cache.set(digest, info);
    }
    return info;
  }
}
