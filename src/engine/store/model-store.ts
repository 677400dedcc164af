// The engine's on-disk model store, laid out like Ollama's:
//   root/blobs/sha256-<hex>                      content-addressed layers and configs
//   root/manifests/<namespace>/<model>/<tag>     one JSON manifest per model name
// Every mutation runs under one in-process mutex, so a create that checks its blobs and
// writes a manifest can never interleave with a delete that collects those blobs. The store
// assumes it is the only process writing under root.
import { mkdir, open, readdir, rmdir, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { HearthError, invalidRequest, notFound } from '../../errors.js';
import { BlobStore } from './blob-store.js';
import { PARTIAL_PREFIX, errnoCode, unlinkIfExists, writeFileAtomic } from './fs-util.js';
import { parseManifestJson, referencedDigests, serializeManifest, type Manifest } from './manifest.js';
import {
  checkModelName,
  formatModelName,
  isValidNamePart,
  parseModelName,
  sameModelName,
  type ModelName,
} from './model-name.js';
import { AsyncMutex } from './mutex.js';
import { storedModel, type StoredModel } from './stored-model.js';

export type { StoredModel } from './stored-model.js';

export interface StoreWarning {
  /** corrupt_manifest: unreadable manifest skipped; stray_entry: unexpected file or directory;
   *  gc_skipped: blob collection skipped because a manifest could not be read. */
  code: 'corrupt_manifest' | 'stray_entry' | 'gc_skipped';
  path: string;
  message: string;
}

export type WarningHandler = (warning: StoreWarning) => void;

export interface ModelStoreOptions {
  /** Receives problems the store works around instead of failing on (e.g. a corrupt manifest). */
  onWarning?: WarningHandler;
  /** Unreferenced blobs older than this are deleted by open(); default one hour, as in Ollama. */
  unreferencedBlobMaxAgeMs?: number;
}

export interface DeleteResult {
  name: ModelName;
  fullName: string;
  /** The deleted model; undefined when its manifest was corrupt (it is deleted all the same). */
  model: StoredModel | undefined;
  /** Blobs that only the deleted manifest referenced, now removed. */
  removedBlobs: string[];
}

export const DEFAULT_UNREFERENCED_BLOB_MAX_AGE_MS = 60 * 60 * 1000;

const DIR_MODE = 0o700;

interface ManifestScan {
  models: StoredModel[];
  /** Whether every manifest could be read, i.e. the set of referenced blobs is known. */
  complete: boolean;
}

export class ModelStore {
  readonly blobs: BlobStore;
  readonly manifestsDir: string;
  private readonly mutex = new AsyncMutex();
  private readonly onWarning: WarningHandler;

  private constructor(readonly root: string, options: ModelStoreOptions) {
    this.blobs = new BlobStore(join(root, 'blobs'));
    this.manifestsDir = join(root, 'manifests');
    this.onWarning = options.onWarning ?? (() => undefined);
  }

  /**
   * Opens (creating if needed) the store at `root`, then cleans up after a previous run:
   * temp files of interrupted writes, and uploaded blobs no manifest uses that are older than
   * the grace period (a client uploads blobs before the create that references them).
   */
  static async open(root: string, options: ModelStoreOptions = {}): Promise<ModelStore> {
    const store = new ModelStore(resolve(root), options);
    await mkdir(store.blobs.dir, { recursive: true, mode: DIR_MODE });
    await mkdir(store.manifestsDir, { recursive: true, mode: DIR_MODE });
    await store.withLock(async () => {
      await store.blobs.removePartials();
      await store.removeManifestPartials();
      await store.pruneUnreferencedBlobs(options.unreferencedBlobMaxAgeMs ?? DEFAULT_UNREFERENCED_BLOB_MAX_AGE_MS);
    });
    return store;
  }

  /** Runs `fn` with every store mutation excluded; re-entrant, so fn may call put/delete/copy. */
  withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.mutex.run(fn);
  }

  async get(name: string | ModelName): Promise<StoredModel | undefined> {
    return (await this.load(toModelName(name)))?.model;
  }

  async require(name: string | ModelName): Promise<StoredModel> {
    const parsed = toModelName(name);
    const model = await this.get(parsed);
    if (!model) throw notFound(`model "${formatModelName(parsed)}" not found`, 'model_not_found');
    return model;
  }

  /** Every readable model, sorted by full name; corrupt manifests are skipped and reported. */
  async list(options: { onWarning?: WarningHandler } = {}): Promise<StoredModel[]> {
    const { models } = await this.scan(options.onWarning ?? this.onWarning);
    return models;
  }

  /** Writes the manifest for `name` atomically, after checking that every blob it names exists. */
  async put(name: string | ModelName, manifest: Manifest): Promise<StoredModel> {
    const parsed = toModelName(name);
    const bytes = serializeManifest(manifest);
    return this.withLock(async () => {
      await this.checkBlobs(parseManifestJson(bytes));
      return this.writeManifest(parsed, bytes);
    });
  }

  /** Copies a model to a new name; the bytes are copied, so both names report the same digest. */
  async copy(source: string | ModelName, destination: string | ModelName): Promise<StoredModel> {
    const from = toModelName(source);
    const to = toModelName(destination);
    return this.withLock(async () => {
      const loaded = await this.load(from);
      if (!loaded) throw notFound(`model "${formatModelName(from)}" not found`, 'model_not_found');
      if (sameModelName(from, to)) return loaded.model;
      await this.checkBlobs(loaded.model.manifest);
      return this.writeManifest(to, loaded.bytes);
    });
  }

  /**
   * Removes a model, then the blobs it referenced that no remaining manifest references.
   * Other unreferenced blobs are left alone: a client may have just uploaded them for a create.
   */
  async delete(name: string | ModelName): Promise<DeleteResult> {
    const parsed = toModelName(name);
    return this.withLock(async () => {
      const fullName = formatModelName(parsed);
      const model = await this.get(parsed).catch((err: unknown) => {
        // A corrupt manifest must still be deletable, or the name could never be reused.
        if (err instanceof HearthError && err.code === 'corrupt_manifest') return null;
        throw err;
      });
      if (model === undefined) throw notFound(`model "${fullName}" not found`, 'model_not_found');
      const path = this.manifestPath(parsed);
      await unlinkIfExists(path);
      await this.removeEmptyDirs(parsed);
      // Blobs of a corrupt manifest are unknown; once unreferenced, open() collects them.
      if (model === null) return { name: parsed, fullName, model: undefined, removedBlobs: [] };

      const { models, complete } = await this.scan(this.onWarning);
      if (!complete) {
        this.onWarning({ code: 'gc_skipped', path, message: 'blobs of the deleted model kept: a manifest is unreadable' });
        return { name: parsed, fullName, model, removedBlobs: [] };
      }
      const stillUsed = new Set(models.flatMap((m) => referencedDigests(m.manifest)));
      const removedBlobs: string[] = [];
      for (const digest of referencedDigests(model.manifest)) {
        if (!stillUsed.has(digest) && (await this.blobs.remove(digest))) removedBlobs.push(digest);
      }
      return { name: parsed, fullName, model, removedBlobs };
    });
  }

  /**
   * Deletes blobs that no manifest references and that were last written more than
   * `maxAgeMs` ago; returns their digests. Does nothing if any manifest is unreadable,
   * since its blobs cannot be told apart from garbage.
   */
  async pruneUnreferencedBlobs(maxAgeMs: number = DEFAULT_UNREFERENCED_BLOB_MAX_AGE_MS): Promise<string[]> {
    return this.withLock(async () => {
      const { models, complete } = await this.scan(this.onWarning);
      if (!complete) {
        this.onWarning({ code: 'gc_skipped', path: this.blobs.dir, message: 'unreferenced blobs kept: a manifest is unreadable' });
        return [];
      }
      const used = new Set(models.flatMap((m) => referencedDigests(m.manifest)));
      const cutoff = Date.now() - maxAgeMs;
      const removed: string[] = [];
      for (const digest of await this.blobs.list()) {
        if (used.has(digest)) continue;
        const modifiedAt = await this.blobs.modifiedAt(digest).catch(() => undefined);
        if (modifiedAt && modifiedAt.getTime() < cutoff && (await this.blobs.remove(digest))) removed.push(digest);
      }
      return removed;
    });
  }

  /** Path of a name's manifest; the parts are validated, and the check below is a backstop. */
  manifestPath(name: ModelName): string {
    const checked = checkModelName(name);
    const path = join(this.manifestsDir, checked.namespace, checked.model, checked.tag);
    if (!path.startsWith(this.manifestsDir + sep)) {
      throw invalidRequest(`invalid model name "${formatModelName(checked)}": escapes the store`, 'invalid_model_name');
    }
    return path;
  }

  /** A model with its manifest's exact bytes; a corrupt manifest is an internal error here. */
  private async load(name: ModelName): Promise<{ model: StoredModel; bytes: Buffer } | undefined> {
    const file = await readManifestFile(this.manifestPath(name));
    if (!file) return undefined;
    try {
      return { model: storedModel(name, parseManifestJson(file.bytes), file.bytes, file.modifiedAt), bytes: file.bytes };
    } catch (err) {
      throw new HearthError('internal', `manifest of model "${formatModelName(name)}" is corrupt: ${errorText(err)}`, {
        code: 'corrupt_manifest',
        cause: err,
      });
    }
  }

  private async checkBlobs(manifest: Manifest): Promise<void> {
    for (const layer of [manifest.config, ...manifest.layers]) {
      if (!(await this.blobs.has(layer.digest))) {
        throw invalidRequest(`blob ${layer.digest} referenced by the manifest does not exist`, 'blob_not_found');
      }
      const actual = await this.blobs.size(layer.digest);
      if (actual !== layer.size) {
        throw invalidRequest(`blob ${layer.digest} is ${actual} bytes but the manifest says ${layer.size}`, 'invalid_manifest');
      }
    }
  }

  private async writeManifest(name: ModelName, bytes: Buffer): Promise<StoredModel> {
    const path = this.manifestPath(name);
    await mkdir(join(this.manifestsDir, name.namespace, name.model), { recursive: true, mode: DIR_MODE });
    await writeFileAtomic(path, bytes);
    const file = await readManifestFile(path);
    if (!file) throw new HearthError('internal', `manifest ${path} vanished after writing`);
    return storedModel(name, parseManifestJson(file.bytes), file.bytes, file.modifiedAt);
  }

  private async removeEmptyDirs(name: ModelName): Promise<void> {
    for (const dir of [join(this.manifestsDir, name.namespace, name.model), join(this.manifestsDir, name.namespace)]) {
      try {
        await rmdir(dir);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return;
        if (code !== 'ENOENT') throw err;
      }
    }
  }

  private async scan(warn: WarningHandler): Promise<ManifestScan> {
    const models: StoredModel[] = [];
    let complete = true;
    // A stray entry may be a manifest under a name we do not accept (a directory created by
    // hand in upper case, say), so it too leaves the set of referenced blobs unknown.
    const stray = (path: string, message: string) => {
      complete = false;
      warn({ code: 'stray_entry', path, message });
    };
    // Dot entries are our in-flight temp files or OS litter (.DS_Store); no name part starts
    // with ".", so they can never hold a manifest and do not make the scan incomplete.
    for (const ns of await listDir(this.manifestsDir)) {
      const nsPath = join(this.manifestsDir, ns.name);
      if (ns.name.startsWith('.')) continue;
      if (!ns.isDirectory() || !isValidNamePart(ns.name)) {
        stray(nsPath, 'not a namespace directory');
        continue;
      }
      for (const model of await listDir(nsPath)) {
        const modelPath = join(nsPath, model.name);
        if (model.name.startsWith('.')) continue;
        if (!model.isDirectory() || !isValidNamePart(model.name)) {
          stray(modelPath, 'not a model directory');
          continue;
        }
        for (const tag of await listDir(modelPath)) {
          const tagPath = join(modelPath, tag.name);
          if (tag.name.startsWith('.')) continue;
          if (!tag.isFile() || !isValidNamePart(tag.name)) {
            stray(tagPath, 'not a manifest file');
            continue;
          }
          const name: ModelName = { namespace: ns.name, model: model.name, tag: tag.name };
          const file = await readManifestFile(tagPath);
          if (!file) continue; // deleted while we listed: not a problem
          try {
            models.push(storedModel(name, parseManifestJson(file.bytes), file.bytes, file.modifiedAt));
          } catch (err) {
            complete = false;
            warn({ code: 'corrupt_manifest', path: tagPath, message: `skipped ${formatModelName(name)}: ${errorText(err)}` });
          }
        }
      }
    }
    models.sort((a, b) => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0));
    return { models, complete };
  }

  /** Temp files left by interrupted manifest writes; only called at open, under the lock. */
  private async removeManifestPartials(): Promise<void> {
    const visit = async (dir: string, depth: number): Promise<void> => {
      for (const entry of await listDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.name.startsWith(PARTIAL_PREFIX) && entry.isFile()) await unlinkIfExists(path);
        else if (entry.isDirectory() && depth < 2 && isValidNamePart(entry.name)) await visit(path, depth + 1);
      }
    };
    await visit(this.manifestsDir, 0);
  }
}

function toModelName(name: string | ModelName): ModelName {
  return typeof name === 'string' ? parseModelName(name) : checkModelName(name);
}

/** Directory entries, or none if the directory was removed concurrently. */
async function listDir(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * Reads a manifest's bytes and mtime through one handle, so both describe the same file even
 * if a put renames a new one into place meanwhile. Undefined when there is no such file.
 */
async function readManifestFile(path: string): Promise<{ bytes: Buffer; modifiedAt: Date } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return undefined;
    return { bytes: await handle.readFile(), modifiedAt: info.mtime };
  } finally {
    await handle.close();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
