import { Router } from 'express';
import { invalidRequest, notFound } from '../../errors.js';
import { NdjsonWriter } from '../http/streaming.js';
import type { ModelStore } from '../store/model-store.js';
import { MANIFEST_MEDIA_TYPE, MediaType, type Layer, type Manifest } from '../store/manifest.js';
import { parseDigest } from '../store/digest.js';
import { formatModelName, parseModelName } from '../store/model-name.js';
import { GoTemplate } from '../runtime/go-template.js';
import type { ModelInfo, ModelInfoCache } from '../service/model-info.js';
import type { ModelPool } from '../runtime/model-pool.js';

interface CreateBody {
  model: string;
  from?: string;
  files?: Record<string, string>;
  adapters?: Record<string, string>;
  template?: string;
  system?: string;
  license?: string | string[];
  parameters?: Record<string, unknown>;
  messages?: unknown[];
  quantize?: string;
  stream?: boolean;
}

/** Every LoRA pair must target a tensor of the base with matching outer dimensions. */
export function checkAdapterFits(adapter: ModelInfo, base: ModelInfo, fileName: string): void {
  if (adapter.type !== 'adapter') throw invalidRequest(`adapters["${fileName}"] is not a GGUF adapter (general.type is "${adapter.type}")`, 'invalid_adapter');
  if (adapter.architecture !== base.architecture) {
    throw invalidRequest(`adapters["${fileName}"] is for architecture "${adapter.architecture}", the base is "${base.architecture}"`, 'invalid_adapter');
  }
  const baseTensors = new Map(base.tensors.map((t) => [t.name, t.dims]));
  for (const t of adapter.tensors) {
    const m = /^(.*)\.lora_([ab])$/.exec(t.name);
    if (!m) continue;
    const dims = baseTensors.get(m[1] as string);
    const fits = dims !== undefined && (m[2] === 'a' ? t.dims[0] === dims[0] : t.dims[1] === dims[1]);
    if (!fits) throw invalidRequest(`adapters["${fileName}"] does not fit the base model: tensor ${t.name} has no matching base tensor`, 'invalid_adapter');
  }
}

/** POST /api/create: a model from a stored model (`from`) or uploaded GGUF blobs (`files`), plus adapters, template, system, parameters. */
export function createCreateRouter({ store, infos, pool }: { store: ModelStore; infos: ModelInfoCache; pool: ModelPool }): Router {
  const router = Router();

  const ggufInfo = async (field: string, fileName: string, digest: string): Promise<{ layer: Layer; info: ModelInfo }> => {
    if (!fileName.toLowerCase().endsWith('.gguf')) {
      throw invalidRequest(`${field}["${fileName}"]: the bundled engine takes GGUF files only; convert safetensors with llama.cpp's convert scripts first`, 'unsupported_format');
    }
    if (!(await store.blobs.has(digest))) {
      throw invalidRequest(`${field}["${fileName}"]: blob ${digest} not found; upload it first with POST /api/blobs/${digest}`, 'blob_not_found');
    }
    const path = store.blobs.pathOf(digest);
    const info = await infos.get(digest, path).catch((err: unknown) => {
      throw invalidRequest(`${field}["${fileName}"] is not a valid GGUF file: ${err instanceof Error ? err.message : String(err)}`, 'invalid_gguf');
    });
    return { layer: { mediaType: field === 'files' ? MediaType.model : MediaType.adapter, digest: parseDigest(digest), size: await store.blobs.size(digest) }, info };
  };

  router.post('/api/create', async (req, res) => {
    const body = req.body as CreateBody;
    const stream = body.stream !== false;
    const name = formatModelName(parseModelName(body.model));
    if (body.quantize) throw invalidRequest('quantize: the bundled engine cannot quantize models; quantize the GGUF with llama.cpp before importing', 'quantize_unsupported');
    const template = body.template === undefined ? undefined : GoTemplate.parse(body.template);

    // Everything is checked before the first status line, so a bad request is a plain 4xx.
    let layers: Layer[] = [];
    let base: ModelInfo | undefined;
    if (body.from !== undefined) {
      const from = await store.get(body.from);
      if (!from) throw notFound(`model "${body.from}" not found (from); the engine cannot pull, import a GGUF file instead`, 'model_not_found');
      layers = [...from.manifest.layers];
      const modelLayer = from.layer(MediaType.model);
      if (modelLayer) base = await infos.get(modelLayer.digest, store.blobs.pathOf(modelLayer.digest));
    }
    const files = Object.entries(body.files ?? {});
    if (files.length > 1) throw invalidRequest('files: give exactly one GGUF model file', 'invalid_files');
    if (files.length === 1) {
      const [fileName, digest] = files[0] as [string, string];
      const { layer, info } = await ggufInfo('files', fileName, digest);
      if (info.type !== 'model') throw invalidRequest(`files["${fileName}"] is a GGUF ${info.type}, not a model; pass it in "adapters"`, 'invalid_gguf');
      layers = [...layers.filter((l) => l.mediaType !== MediaType.model && l.mediaType !== MediaType.adapter), layer];
      base = info;
    }
    if (!base) throw invalidRequest('neither "from" nor "files" names a model to create from', 'missing_model');
    const adapters = Object.entries(body.adapters ?? {});
    if (adapters.length > 0) {
      layers = layers.filter((l) => l.mediaType !== MediaType.adapter);
      for (const [fileName, digest] of adapters) {
        const { layer, info } = await ggufInfo('adapters', fileName, digest);
        checkAdapterFits(info, base, fileName);
        layers.push(layer);
      }
    }

    const out = new NdjsonWriter(res);
    const status = (s: string) => {
      if (stream) out.write({ status: s });
    };
    status('parsing GGUF');
    const textLayer = async (mediaType: string, text: string | undefined) => {
      if (text === undefined) return;
      const { digest, size } = await store.blobs.writeBytes(Buffer.from(text, 'utf8'));
      layers = [...layers.filter((l) => l.mediaType !== mediaType), { mediaType, digest, size }];
      status(`using layer ${digest}`);
    };
    await textLayer(MediaType.template, template?.source);
    await textLayer(MediaType.system, body.system);
    await textLayer(MediaType.params, body.parameters === undefined ? undefined : JSON.stringify(body.parameters));
    await textLayer(MediaType.license, body.license === undefined ? undefined : [body.license].flat().join('\n\n'));
    await textLayer(MediaType.messages, body.messages === undefined ? undefined : JSON.stringify(body.messages));
    const config = await store.blobs.writeBytes(
      Buffer.from(JSON.stringify({ model_format: 'gguf', model_family: base.architecture, model_families: [base.architecture], model_type: base.parameterSize, file_type: base.quantization })),
    );
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: MediaType.config, digest: config.digest, size: config.size },
      layers,
    };
    status('writing manifest');
    const created = await store.put(name, manifest);
    // A model recreated under a loaded name must not keep serving the old weights.
    await pool.unload(created.fullName);
    if (stream) out.end({ status: 'success' });
    else res.json({ status: 'success' });
  });
  return router;
}
