import { readFile } from 'node:fs/promises';
import type { ModelStore, StoredModel } from '../store/model-store.js';
import { MediaType } from '../store/manifest.js';
import { GoTemplate } from './go-template.js';
import type { OllamaOptions } from './options.js';

/** Everything needed to load and prompt a stored model, resolved from its manifest's layers. */
export interface ModelSpec {
  name: string;
  /** Hex digest of the manifest: identifies this exact version of the model. */
  digest: string;
  modelPath: string;
  modelDigest: string;
  adapterPaths: string[];
  /** An Ollama (Go) template layer; when absent the GGUF's own chat template is used. */
  template?: GoTemplate;
  system?: string;
  parameters: OllamaOptions;
  stored: StoredModel;
}

/** Reads the layers of a stored model; the result depends only on the manifest's digest. */
export async function resolveModelSpec(store: ModelStore, stored: StoredModel): Promise<ModelSpec> {
  const modelLayer = stored.layer(MediaType.model);
  if (!modelLayer) throw new Error(`model ${stored.fullName} has no model layer`);
  const text = async (mediaType: string) => {
    const layer = stored.layer(mediaType);
    return layer ? readFile(store.blobs.pathOf(layer.digest), 'utf8') : undefined;
  };
  const templateText = await text(MediaType.template);
  const paramsText = await text(MediaType.params);
  return {
    name: stored.fullName,
    digest: stored.digest,
    modelPath: store.blobs.pathOf(modelLayer.digest),
    modelDigest: modelLayer.digest,
    adapterPaths: stored.layers(MediaType.adapter).map((l) => store.blobs.pathOf(l.digest)),
    template: templateText === undefined ? undefined : GoTemplate.parse(templateText),
    system: await text(MediaType.system),
    parameters: paramsText === undefined ? {} : (JSON.parse(paramsText) as OllamaOptions),
    stored,
  };
}
