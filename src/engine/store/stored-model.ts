// The read view of one model in the store: its name, parsed manifest and the facts Ollama's
// /api/tags reports about it.
import { createHash } from 'node:crypto';
import { findLayer, findLayers, manifestSize, type Layer, type Manifest } from './manifest.js';
import { formatModelName, type ModelName } from './model-name.js';

export interface StoredModel {
  readonly name: ModelName;
  /** formatModelName(name): "model:tag", or "namespace/model:tag" outside "library". */
  readonly fullName: string;
  readonly manifest: Manifest;
  /** sha256 hex of the manifest file's bytes (no "sha256:" prefix), as Ollama reports it. */
  readonly digest: string;
  /** Sum of the config and layer sizes. */
  readonly size: number;
  /** The manifest file's mtime: when the model was last created or copied to this name. */
  readonly modifiedAt: Date;
  /** First layer of the media type, e.g. MediaType.model for the weights. */
  layer(mediaType: string): Layer | undefined;
  layers(mediaType: string): Layer[];
}

export function storedModel(name: ModelName, manifest: Manifest, fileBytes: Uint8Array, modifiedAt: Date): StoredModel {
  return {
    name,
    fullName: formatModelName(name),
    manifest,
    digest: createHash('sha256').update(fileBytes).digest('hex'),
    size: manifestSize(manifest),
    modifiedAt,
    layer: (mediaType) => findLayer(manifest, mediaType),
    layers: (mediaType) => findLayers(manifest, mediaType),
  };
}
