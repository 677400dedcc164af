import express, { Router } from 'express';
import { absolutePath } from 'swagger-ui-dist';

/**
 * Swagger UI at /docs from the swagger-ui-dist package: every asset is served from this
 * machine, so the explorer works with no internet. The initializer points it at our spec and
 * turns off the online validator badge: left on, any page not opened as localhost asks
 * validator.swagger.io to fetch the spec, which would send the operator's internal URL out.
 */
export function createDocsRouter(): Router {
  const router = Router();
  router.get('/docs/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(
      `window.onload = function () {\n  window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });\n};\n`,
    );
  });
  router.get('/docs', (req, res, next) => (req.path === '/docs' && !req.originalUrl.endsWith('/') ? res.redirect(301, '/docs/') : next()));
  router.use('/docs', express.static(absolutePath(), { index: 'index.html', maxAge: '1h' }));
  return router;
}
