-- Recording and supervision (docs/RECORDING.md): who is recorded, the
-- recordings' metadata and wrapped keys, the audit log, API key roles,
-- supervisors' queues, score forms and evaluations.

-- Recording policy. Most specific wins: an agent's (when set), else the
-- queue's (when set), else the tenant's. NULL on an agent or a queue: inherit.
ALTER TABLE cc.tenants
  ADD COLUMN recording_policy  text NOT NULL DEFAULT 'none'
    CHECK (recording_policy IN ('all', 'none', 'percent')),
  ADD COLUMN recording_percent integer CHECK (recording_percent BETWEEN 0 AND 100),
  ADD COLUMN retention_days    integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 3650),
  ADD CONSTRAINT tenants_recording_whole CHECK ((recording_policy = 'percent') = (recording_percent IS NOT NULL));
ALTER TABLE cc.queues
  ADD COLUMN recording         text CHECK (recording IN ('all', 'none', 'percent')),
  ADD COLUMN recording_percent integer CHECK (recording_percent BETWEEN 0 AND 100),
  ADD CONSTRAINT queues_recording_whole CHECK ((recording IS NOT DISTINCT FROM 'percent') = (recording_percent IS NOT NULL));
ALTER TABLE cc.agents
  ADD COLUMN recording         text CHECK (recording IN ('all', 'none', 'percent')),
  ADD COLUMN recording_percent integer CHECK (recording_percent BETWEEN 0 AND 100),
  -- the queues (names) this agent supervises: may monitor their calls
  ADD COLUMN supervises        text[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT agents_recording_whole CHECK ((recording IS NOT DISTINCT FROM 'percent') = (recording_percent IS NOT NULL));

-- API key roles. Keys made before this migration (each tenant's first) are admin.
-- supervisor and agent keys act as one agent of the tenant (agent_id).
ALTER TABLE cc.api_keys
  ADD COLUMN role     text NOT NULL DEFAULT 'admin'
    CHECK (role IN ('admin', 'supervisor', 'agent', 'records_admin', 'read_only')),
  ADD COLUMN agent_id uuid REFERENCES cc.agents(id) ON DELETE CASCADE,
  ADD COLUMN name     text,
  ADD CONSTRAINT api_keys_agent_role CHECK ((role IN ('supervisor', 'agent')) = (agent_id IS NOT NULL));

-- Tenant key-encryption keys, each wrapped by the platform's master key (or
-- a KMS: kms_ref names which key). No foreign key: a deleted tenant's rows
-- stay as tombstones with wrapped NULL (its recordings unreadable for good).
CREATE TABLE cc.tenant_keys (
  tenant_id     uuid NOT NULL,
  version       integer NOT NULL CHECK (version >= 1),
  kms_ref       text NOT NULL,
  wrapped       bytea,
  created_at    timestamptz NOT NULL DEFAULT now(),
  retired_at    timestamptz,              -- a newer version took over (rotation)
  destroyed_at  timestamptz,
  PRIMARY KEY (tenant_id, version),
  CONSTRAINT tenant_keys_destroyed CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

-- One recording of one call (a call may have several: stop and start again).
-- The file is in the store at path, encrypted under its own data key, kept
-- here wrapped by the tenant's key of version kek_version.
CREATE TABLE cc.recordings (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL,
  call_id      uuid NOT NULL,             -- cc.calls.id (the call's cc id)
  state        text NOT NULL CHECK (state IN ('recording', 'complete', 'incomplete', 'failed', 'purged')),
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  duration_ms  bigint,
  direction    text,                      -- inbound | outbound | internal
  caller       text,                      -- E.164 or extension
  callee       text,
  queue        text,
  agent        text,                      -- extension (the first agent)
  path         text NOT NULL,             -- the store's key
  kek_version  integer NOT NULL,
  wrapped_key  bytea NOT NULL,
  bytes        bigint,                    -- the stored (encrypted) file
  audio_bytes  bigint,                    -- the decrypted audio/ogg stream
  sha256       text,                      -- of the stored file, hex
  pauses       jsonb NOT NULL DEFAULT '[]',  -- [{"from_ms":..,"to_ms":..}], silence in the file
  legal_hold   boolean NOT NULL DEFAULT false,
  hold_reason  text,
  error        text,                      -- failed: why (disk full, ...)
  instance     text,                      -- the mediad that wrote it
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_tenant_started_idx ON cc.recordings (tenant_id, started_at DESC, id DESC);
CREATE INDEX recordings_tenant_caller_idx ON cc.recordings (tenant_id, caller);
CREATE INDEX recordings_tenant_callee_idx ON cc.recordings (tenant_id, callee);
CREATE INDEX recordings_tenant_agent_idx ON cc.recordings (tenant_id, agent);
CREATE INDEX recordings_call_idx ON cc.recordings (call_id);
CREATE INDEX recordings_open_idx ON cc.recordings (state) WHERE state = 'recording';

-- Every access to and change of a recording or a call record, and every key
-- rotation: append-only (the trigger refuses UPDATE and DELETE).
CREATE TABLE cc.audit (
  id          bigserial PRIMARY KEY,
  tenant_id   uuid NOT NULL,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor       text NOT NULL,              -- 'operator', 'key:<uuid>', 'system:<job>'
  role        text,
  action      text NOT NULL,              -- read, download, download_failed, update, delete, hold, release, purge, rotate_key, ...
  object_type text NOT NULL,              -- recording | call | tenant_key | tenant
  object_id   text NOT NULL,
  remote      text,                       -- the client's address
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_tenant_object_idx ON cc.audit (tenant_id, object_id, id);
CREATE INDEX audit_tenant_at_idx ON cc.audit (tenant_id, at);
CREATE FUNCTION cc.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'cc.audit is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON cc.audit
  FOR EACH ROW EXECUTE FUNCTION cc.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON cc.audit
  FOR EACH STATEMENT EXECUTE FUNCTION cc.audit_append_only();

-- Quality evaluation: a tenant's score forms (criteria with weights) and
-- the evaluations of recordings against them.
CREATE TABLE cc.score_forms (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  criteria    jsonb NOT NULL,             -- [{"name":"greeting","weight":20,"max":5}, ...]
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT score_forms_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT score_forms_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE TABLE cc.evaluations (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  recording_id  uuid NOT NULL REFERENCES cc.recordings(id),
  form_id       uuid NOT NULL,
  agent         text NOT NULL,            -- the evaluated agent's extension
  evaluator     text NOT NULL,            -- actor, as in cc.audit
  scores        jsonb NOT NULL,           -- {"greeting":4, ...}
  score         numeric(5,2) NOT NULL CHECK (score BETWEEN 0 AND 100),
  comment       text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, form_id) REFERENCES cc.score_forms (tenant_id, id)
);
CREATE INDEX evaluations_tenant_agent_idx ON cc.evaluations (tenant_id, agent, created_at);
