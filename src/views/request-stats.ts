import type { DailyUsageRow, StatsBucket } from '../domain/request-stats.js';
import { toCsv } from './csv.js';

/** JSON views of the request log's totals: GET /api/admin/stats and /api/admin/usage/daily. */
export const statsBucketView = (b: StatsBucket) => ({
  start: b.start.toISOString(),
  requests: b.requests,
  errors: b.errors,
  credits: b.credits,
  prompt_tokens: b.promptTokens,
  completion_tokens: b.completionTokens,
});

export const dailyUsageView = (r: DailyUsageRow) => ({
  day: r.day,
  workspace_id: r.workspaceId,
  key_id: r.keyId,
  model: r.model,
  requests: r.requests,
  prompt_tokens: r.promptTokens,
  completion_tokens: r.completionTokens,
  credits: r.credits,
});

const DAILY_COLUMNS = ['day', 'workspace_id', 'key_id', 'model', 'requests', 'prompt_tokens', 'completion_tokens', 'credits'] as const;

/** The same rows as CSV, with the JSON's field names as the header. */
export function dailyUsageCsv(rows: readonly DailyUsageRow[]): string {
  return toCsv(
    DAILY_COLUMNS,
    rows.map((r) => {
      const v = dailyUsageView(r);
      return DAILY_COLUMNS.map((c) => v[c]);
    }),
  );
}
