import { Router } from 'express';
import { invalidRequest } from '../../errors.js';

/** The engine never reaches the internet: pull and push explain how to import a local file instead. */
export function createRegistryRouter(): Router {
  const router = Router();
  const refuse = (verb: 'pull' | 'push') => (req: { body: unknown }) => {
    const body = (req.body ?? {}) as { model?: unknown; name?: unknown };
    const name = typeof body.model === 'string' ? body.model : typeof body.name === 'string' ? body.name : 'MODEL';
    throw invalidRequest(
      `the bundled engine is offline and cannot ${verb} "${name}": ` +
        (verb === 'pull'
          ? `import a local GGUF file instead with \`hearth models import FILE.gguf --name ${name}\`, or upload it with POST /api/blobs/sha256:<digest> and register it with POST /api/create {"model": "${name}", "files": {"model.gguf": "sha256:<digest>"}}`
          : 'copy the model\'s GGUF blob from the engine\'s store to the other machine and import it there'),
      `${verb}_unsupported`,
    );
  };
  router.post('/api/pull', refuse('pull'));
  router.post('/api/push', refuse('push'));
  return router;
}
