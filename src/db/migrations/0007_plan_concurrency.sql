-- Concurrent inference calls per workspace, per plan. One workspace's key could hold every
-- engine slot and the whole backend queue with long calls, so that every other workspace got
-- 503 backend_busy; the gateway now refuses a workspace's call past its plan's bound before it
-- reaches the backend queue (429 concurrency_limit_exceeded).
ALTER TABLE plans ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 4 CHECK (max_concurrent BETWEEN 1 AND 10000);

-- The seeded plans' own bounds (src/domain/catalog.ts DEFAULT_PLANS); a plan the operator made
-- keeps the default of 4.
UPDATE plans SET max_concurrent = 2 WHERE id = 'trial_chat';
UPDATE plans SET max_concurrent = 8 WHERE id = 'local_agent_train';
UPDATE plans SET max_concurrent = 16 WHERE id = 'enterprise';
