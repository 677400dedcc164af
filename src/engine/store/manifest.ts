// Ollama-style image manifests (Docker distribution manifest v2 shape). Manifests are read
// back from disk and may have been edited or truncated, so parsing validates every field
// instead of trusting a cast.
import { invalidRequest } from '../../errors.js';
import { parseDigest } from './digest.js';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

export const MediaType = Object.freeze({
  model: 'application/vnd.ollama.image.model',
  adapter: 'application/vnd.ollama.image.adapter',
  template: 'application/vnd.ollama.image.template',
  system: 'application/vnd.ollama.image.system',
  params: 'application/vnd.ollama.image.params',
  license: 'application/vnd.ollama.image.license',
  messages: 'application/vnd.ollama.image.messages',
  config: 'application/vnd.docker.container.image.v1+json',
} as const);

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

export interface Layer {
  mediaType: string;
  /** Canonical "sha256:<hex>". */
  digest: string;
  size: number;
  /** Ollama records where a layer was inherited from (the FROM model); kept when present. */
  from?: string;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: typeof MANIFEST_MEDIA_TYPE;
  config: Layer;
  layers: Layer[];
}

export function createManifest(config: Layer, layers: Layer[]): Manifest {
  return parseManifest({ schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE, config, layers });
}

/** Parses manifest file bytes; throws invalidRequest ('invalid_manifest') saying what is wrong. */
export function parseManifestJson(text: string | Uint8Array): Manifest {
  const source = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw invalid(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseManifest(value);
}

/** Validates a manifest-shaped value and returns a normalized copy with only known fields. */
export function parseManifest(value: unknown): Manifest {
  if (!isRecord(value)) throw invalid('expected a JSON object');
  if (value['schemaVersion'] !== 2) throw invalid(`schemaVersion must be 2, got ${show(value['schemaVersion'])}`);
  if (value['mediaType'] !== MANIFEST_MEDIA_TYPE) {
    throw invalid(`mediaType must be ${MANIFEST_MEDIA_TYPE}, got ${show(value['mediaType'])}`);
  }
  const layers = value['layers'];
  if (!Array.isArray(layers)) throw invalid('layers must be an array');
  return {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: parseLayer(value['config'], 'config'),
    layers: layers.map((layer: unknown, i) => parseLayer(layer, `layers[${i}]`)),
  };
}

/** File contents for a manifest; key order matches Ollama's so equal manifests hash equal. */
export function serializeManifest(manifest: Manifest): Buffer {
  const normalized = parseManifest(manifest);
  return Buffer.from(JSON.stringify(normalized), 'utf8');
}

/** Total bytes of the model: config plus every layer, as Ollama reports it. */
export function manifestSize(manifest: Manifest): number {
  return manifest.layers.reduce((sum, layer) => sum + layer.size, manifest.config.size);
}

/** Every blob digest a manifest references (config first), without duplicates. */
export function referencedDigests(manifest: Manifest): string[] {
  return [...new Set([manifest.config.digest, ...manifest.layers.map((l) => l.digest)])];
}

export function findLayer(manifest: Manifest, mediaType: string): Layer | undefined {
  return manifest.layers.find((l) => l.mediaType === mediaType);
}

export function findLayers(manifest: Manifest, mediaType: string): Layer[] {
  return manifest.layers.filter((l) => l.mediaType === mediaType);
}

function parseLayer(value: unknown, where: string): Layer {
  if (!isRecord(value)) throw invalid(`${where} must be an object`);
  const { mediaType, digest, size, from } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest must be a string`);
  let canonical: string;
  try {
    canonical = parseDigest(digest);
  } catch {
    throw invalid(`${where}.digest ${show(digest)} is not a sha256 digest`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  if (from !== undefined && typeof from !== 'string') throw invalid(`${where}.from must be a string`);
  const layer: Layer = { mediaType, digest: canonical, size };
  if (from !== undefined && from !== '') layer.from = from;
  return layer;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function invalid(why: string) {
  return invalidRequest(`invalid manifest: ${why}`, 'invalid_manifest');
}
