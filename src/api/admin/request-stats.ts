import { Router } from 'express';
import type { RequestStats, StatsWindow } from '../../domain/request-stats.js';
import { STATS_WINDOWS } from '../../domain/request-stats.js';
import type { Workspaces } from '../../domain/workspaces.js';
import { dailyUsageCsv, dailyUsageView, statsBucketView } from '../../views/request-stats.js';

/** The request log's totals: GET /api/admin/stats (the console's charts) and /api/admin/usage/daily (its table, and the CSV export). */
export function createRequestStatsRouter({ stats, workspaces }: { stats: RequestStats; workspaces: Workspaces }): Router {
  const router = Router();

  router.get('/stats', (req, res) => {
    const window = (req.query.window ?? 'hour') as StatsWindow;
    res.json({ window, bucket_seconds: STATS_WINDOWS[window].bucketSeconds, buckets: stats.window(window).map(statsBucketView) });
  });

  router.get('/usage/daily', (req, res) => {
    const workspaceId = typeof req.query.workspace === 'string' ? workspaces.get(req.query.workspace).id : undefined;
    const { period, rows } = stats.daily({ period: typeof req.query.period === 'string' ? req.query.period : undefined, workspaceId });
    if (req.query.format === 'csv') {
      res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
      // Ids and the period only: nothing in the name needs quoting or escaping.
      res.setHeader('Content-Disposition', `attachment; filename="hearth-usage-${period}${workspaceId === undefined ? '' : `-${workspaceId}`}.csv"`);
      res.send(dailyUsageCsv(rows));
      return;
    }
    res.json({ period, rows: rows.map(dailyUsageView) });
  });
  return router;
}
