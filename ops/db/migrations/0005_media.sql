-- mediad and the IVR (docs/MEDIA.md): prompts, flows, numbers that point
-- at a flow, and what the call record learns from mediad.

-- A prompt is a tenant's named audio, stored normalised (signed 16-bit
-- little-endian mono PCM at 8 kHz and at 16 kHz, made once at upload, so
-- mediad never converts while a call plays it). Replacing a prompt
-- replaces its row: a call already playing the old audio holds it in
-- memory and finishes it. The platform's default prompts ship as files
-- (docs/PROMPTS.md), not rows.
CREATE TABLE cc.prompts (
  id           uuid PRIMARY KEY,          -- this version of the prompt's audio
  tenant_id    uuid NOT NULL REFERENCES cc.tenants(id),
  name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  source       text NOT NULL CHECK (source IN ('upload', 'tts')),
  content_type text,                      -- what was uploaded (audio/wav, ...)
  tts_text     text,                      -- source 'tts': what was spoken
  voice        text,                      -- source 'tts': zh | en
  duration_ms  integer NOT NULL CHECK (duration_ms > 0 AND duration_ms <= 600000),
  pcm8         bytea NOT NULL,            -- s16le mono 8 kHz
  pcm16        bytea NOT NULL,            -- s16le mono 16 kHz
  current      boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX prompts_current_key ON cc.prompts (tenant_id, name) WHERE current;

-- A flow is a tenant's named IVR graph. Each PUT stores a new immutable
-- version; the flow points at its current one. A call runs the version it
-- started with (routingd's answer names it), so a change never disturbs
-- calls already in a flow.
CREATE TABLE cc.flows (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  version_id  uuid NOT NULL,              -- cc.flow_versions.id in force
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flows_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT flows_tenant_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE cc.flow_versions (
  id          uuid PRIMARY KEY,
  flow_id     uuid NOT NULL REFERENCES cc.flows(id) ON DELETE CASCADE,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  body        jsonb NOT NULL,             -- the graph as accepted (lib/flow.h)
  prompts     text[] NOT NULL DEFAULT '{}', -- prompt names it plays
  flows       text[] NOT NULL DEFAULT '{}', -- flow names its goto nodes name
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_versions_flow_idx ON cc.flow_versions (flow_id, created_at);
ALTER TABLE cc.flows ADD CONSTRAINT flows_version_fkey
  FOREIGN KEY (version_id) REFERENCES cc.flow_versions(id) DEFERRABLE INITIALLY DEFERRED;

-- A number's target is an agent or a flow of the same tenant.
ALTER TABLE cc.numbers DROP CONSTRAINT IF EXISTS numbers_target_type_check;
ALTER TABLE cc.numbers DROP CONSTRAINT numbers_target_whole;
ALTER TABLE cc.numbers
  ADD COLUMN target_flow uuid,
  ADD CONSTRAINT numbers_target_type_check CHECK (target_type IN ('agent', 'flow')),
  ADD CONSTRAINT numbers_target_whole CHECK (
    (target_type IS NULL AND target_extension IS NULL AND target_flow IS NULL) OR
    (target_type = 'agent' AND target_extension IS NOT NULL AND target_flow IS NULL) OR
    (target_type = 'flow' AND target_flow IS NOT NULL AND target_extension IS NULL)),
  -- a flow of the number's own tenant (never another tenant's)
  ADD CONSTRAINT numbers_target_flow_fkey FOREIGN KEY (tenant_id, target_flow)
    REFERENCES cc.flows (tenant_id, id);

-- What the call record learns from mediad (billingd fills these from the
-- events ivr, bridged, agent_failed, media_ended; docs/EVENTS.md).
ALTER TABLE cc.calls
  ADD COLUMN parent_call uuid,            -- a leg mediad placed: the caller's call
  ADD COLUMN flow        text,            -- the flow the call entered
  ADD COLUMN ivr         jsonb,           -- [{"node":"welcome","digit":"1"},...] in order
  ADD COLUMN ivr_vars    jsonb,           -- collect nodes' variables {"account":"1234"}
  ADD COLUMN ivr_ms      integer,         -- time in the IVR (answer to bridge or end)
  ADD COLUMN media       jsonb;           -- RTCP figures per leg (loss, jitter)
CREATE INDEX calls_parent_idx ON cc.calls (parent_call) WHERE parent_call IS NOT NULL;
