-- Model metadata is keyed by the name as the backend resolves it (modelKey in
-- src/domain/model-metadata.ts): lower case, without the default host "registry.ollama.ai/" and
-- namespace "library/", with ":latest" when the name has no tag. Rows were kept under the name
-- as written plus ":latest", so "My-Model" and "library/my-model" missed the row of
-- "my-model:latest", and with it the owner and is_active set there.
CREATE TEMP TABLE model_key_map AS
  WITH lowered AS (SELECT model_id, updated_at, lower(model_id) AS l FROM model_metadata),
  hostless AS (
    SELECT model_id, updated_at,
           CASE WHEN l LIKE 'registry.ollama.ai/%/%' AND l NOT LIKE 'registry.ollama.ai/%/%/%' THEN substr(l, 20) ELSE l END AS h
      FROM lowered),
  bare AS (
    SELECT model_id, updated_at,
           CASE WHEN h LIKE 'library/%' AND h NOT LIKE 'library/%/%' THEN substr(h, 9) ELSE h END AS n
      FROM hostless)
  SELECT model_id AS old_id, updated_at,
         -- The last "/" part (rtrim strips every character but "/" from the end) decides the tag.
         CASE WHEN instr(substr(n, length(rtrim(n, replace(n, '/', ''))) + 1), ':') > 0 THEN n ELSE n || ':latest' END AS new_id
    FROM bare;

-- Two rows for one model: the one set last stands.
DELETE FROM model_metadata
 WHERE model_id IN (
   SELECT c.old_id FROM model_key_map c
    WHERE EXISTS (
      SELECT 1 FROM model_key_map o
       WHERE o.new_id = c.new_id AND o.old_id <> c.old_id
         AND (o.updated_at > c.updated_at OR (o.updated_at = c.updated_at AND o.old_id > c.old_id))));

UPDATE model_metadata SET model_id = (SELECT new_id FROM model_key_map WHERE old_id = model_metadata.model_id);

DROP TABLE model_key_map;
