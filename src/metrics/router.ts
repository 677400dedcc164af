import { Router } from 'express';
import { metricsAccess, type MetricsAccessOptions } from './access.js';
import type { HearthMetrics } from './registry.js';

const ROUTE = 'GET /metrics';

/**
 * GET /metrics in Prometheus's text format. It lies outside the contract's surfaces, as /docs
 * does: its answer is no JSON for the validator to check and no client of the API reads it. It
 * fails closed all the same: its one route has the access check first, and any other method or
 * path under it is the app's 404.
 */
export function createMetricsRouter({ metrics, ...access }: MetricsAccessOptions & { metrics: HearthMetrics }): Router {
  const router = Router();
  router.get(
    '/metrics',
    (_req, res, next) => {
      // Labelled before the check: refused scrapes count under this route too.
      res.locals.metricsRoute = ROUTE;
      next();
    },
    metricsAccess(access),
    async (_req, res) => {
      const text = await metrics.registry.metrics();
      res.setHeader('Cache-Control', 'no-store');
      res.type(metrics.registry.contentType).send(text);
    },
  );
  return router;
}
