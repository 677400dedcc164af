import { readFile } from 'node:fs/promises';
import type { ModelStore, StoredModel } from '../store/model-store.js';
import { MediaType } from '../store/manifest.js';
import { jinjaUsesTools, type ModelInfoCache } from '../service/model-info.js';
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
  /** The GGUF's own (Jinja) chat template, read only when no Go template replaces it. */
  chatTemplate?: string;
  system?: string;
  parameters: OllamaOptions;
  stored: StoredModel;
}

/**
 * Whether the model renders the tools a request offers, as Ollama decides "supports tools": its
 * Go template uses `.Tools`, or, without one, its GGUF's Jinja chat template uses `tools`.
 */
export function rendersTools({ template, chatTemplate }: Pick<ModelSpec, 'template' | 'chatTemplate'>): boolean {
  return template ? template.usesTools : chatTemplate !== undefined && jinjaUsesTools(chatTemplate);
}

/** Reads the layers of a stored model; the result depends only on the manifest's digest. */
export async function resolveModelSpec(store: ModelStore, stored: StoredModel, infos: ModelInfoCache): Promise<ModelSpec> {
  const modelLayer = stored.layer(MediaType.model);
  if (!modelLayer) throw new Error(`model ${stored.fullName} has no model layer`);
  const text = async (mediaType: string) => {
    const layer = stored.layer(mediaType);
    return layer ? readFile(store.blobs.pathOf(layer.digest), 'utf8') : undefined;
  };
  const templateText = await text(MediaType.template);
  const paramsText = await text(MediaType.params);
  const modelPath = store.blobs.pathOf(modelLayer.digest);
  const chatTemplate = templateText === undefined ? (await infos.get(modelLayer.digest, modelPath)).chatTemplate : undefined;
  return {
    name: stored.fullName,
    digest: stored.digest,
    modelPath,
    modelDigest: modelLayer.digest,
    adapterPaths: stored.layers(MediaType.adapter).map((l) => store.blobs.pathOf(l.digest)),
    template: templateText === undefined ? undefined : GoTemplate.parse(templateText),
    chatTemplate,
    system: await text(MediaType.system),
    parameters: paramsText === undefined ? {} : (JSON.parse(paramsText) as OllamaOptions),
    stored,
  };
}
