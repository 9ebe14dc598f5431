-- The ACD's API (tenantd): what a flow version's queue nodes name, kept
-- beside its prompts and flows (0005) so that a DELETE of a queue finds the
-- flows whose current version sends callers to it without reading every
-- stored body. Versions stored before this migration are filled in from
-- their bodies (a queue node is {"type":"queue","queue":"<name>",...}).
ALTER TABLE cc.flow_versions ADD COLUMN queues text[] NOT NULL DEFAULT '{}';
UPDATE cc.flow_versions v SET queues = ARRAY(
  SELECT DISTINCT n.value->>'queue' FROM jsonb_each(v.body->'nodes') n
  WHERE n.value->>'type' = 'queue' AND n.value->>'queue' IS NOT NULL ORDER BY 1)
WHERE jsonb_typeof(v.body->'nodes') = 'object';
CREATE INDEX flow_versions_queues_idx ON cc.flow_versions USING gin (queues);
