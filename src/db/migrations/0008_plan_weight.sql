-- Each plan's share of the backend under contention. The gateway admits inference calls
-- least-served workspace first (src/gateway/fair-queue.ts), the service a workspace receives
-- divided by its weight: a workspace of weight 2 gets about twice the tokens of a workspace of
-- weight 1 while both wait. Never below 1, so that no plan is served less than an equal share
-- and the operator raises the plans that must get more.
ALTER TABLE plans ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 100);

-- The seeded plans' own weights (src/domain/catalog.ts DEFAULT_PLANS): Enterprise, the one plan
-- sold with an SLA, gets a double share; a plan the operator made keeps 1.
UPDATE plans SET weight = 2 WHERE id = 'enterprise';
