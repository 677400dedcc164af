-- Placeholder for migration 10, which issue 19's console sign-in and audit log take (another
-- branch). Migrations must be numbered without gaps, so this branch carries an empty one to run
-- 0011 on its own; the merge keeps the other branch's 0010 and deletes this file.
SELECT 1;
