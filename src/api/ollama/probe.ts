import { Router } from 'express';

/**
 * The Ollama API version /ollama answers: Ollama's numbering, not Hearth's (0.1.x), since its
 * clients compare it to Ollama releases and may gate newer fields on it; 0.9.0 is the release
 * whose API this surface passes through in full (tools and tool calls in streams, `format` as a
 * JSON schema, `/api/embed`, `think`), so no client holds a feature back or sends one the
 * surface lacks.
 */
export const OLLAMA_API_VERSION = '0.9.0';

/** GET/HEAD /ollama ("Ollama is running", no key: what clients probe first) and GET /ollama/api/version. */
export function createOllamaProbeRouter(): Router {
  const router = Router();
  router.get('', (_req, res) => void res.type('text/plain').send('Ollama is running'));
  router.get('/api/version', (_req, res) => void res.json({ version: OLLAMA_API_VERSION }));
  return router;
}
