-- The platform's own tables (schema cc). Kamailio's live in schema kamailio.
-- Every tenant-owned row carries tenant_id; every query of tenantd and
-- routingd filters on it.

CREATE TABLE cc.tenants (
  id          uuid PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,30}[a-z0-9]$'),
  name        text NOT NULL,
  timezone    text NOT NULL,
  sip_domain  text NOT NULL UNIQUE,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored only as SHA-256 hashes. tenant_id NULL = operator.
CREATE TABLE cc.api_keys (
  id          uuid PRIMARY KEY,
  tenant_id   uuid REFERENCES cc.tenants(id),
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE cc.agents (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  extension   text NOT NULL CHECK (extension ~ '^[0-9]{2,8}$'),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agents_extension_key UNIQUE (tenant_id, extension)
);

CREATE TABLE cc.trunks (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  address     inet NOT NULL,
  port        integer NOT NULL CHECK (port BETWEEN 0 AND 65535),
  outbound    text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT trunks_source_key UNIQUE (address, port)
);

-- A number belongs to one tenant only: e164 is globally unique.
CREATE TABLE cc.numbers (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES cc.tenants(id),
  e164             text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{7,14}$'),
  target_type      text NOT NULL CHECK (target_type IN ('agent')),
  target_extension text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT numbers_e164_key UNIQUE (e164)
);
CREATE INDEX numbers_tenant_idx ON cc.numbers (tenant_id, created_at);

CREATE TABLE cc.blocklist (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  e164        text CHECK (e164 ~ '^\+[1-9][0-9]{7,14}$'),
  prefix      text CHECK (prefix ~ '^[0-9]{1,15}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((e164 IS NULL) <> (prefix IS NULL)),
  CONSTRAINT blocklist_e164_key UNIQUE (tenant_id, e164),
  CONSTRAINT blocklist_prefix_key UNIQUE (tenant_id, prefix)
);

-- One row per call, built by billingd from call events.
CREATE TABLE cc.calls (
  id           uuid PRIMARY KEY,
  tenant_id    uuid REFERENCES cc.tenants(id),
  direction    text,              -- inbound | outbound | internal
  from_number  text,
  to_number    text,
  number       text,              -- the tenant's number involved
  agent        text,              -- extension
  sip_call_id  text,
  started_at   timestamptz,
  answered_at  timestamptz,
  ended_at     timestamptz,
  talk_seconds integer,
  result       text,              -- answered | busy | no_answer | rejected | cancelled | failed
  sip_code     integer,
  reason       text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_tenant_started_idx ON cc.calls (tenant_id, started_at DESC, id DESC);

-- Every consumed event, once: the idempotency key of billingd.
CREATE TABLE cc.call_events (
  id          uuid PRIMARY KEY,
  call_id     uuid NOT NULL,
  tenant_id   uuid,
  type        text NOT NULL,
  ts          timestamptz NOT NULL,
  body        jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_events_call_idx ON cc.call_events (call_id);

-- Replies to POSTs carrying Idempotency-Key, replayed for 24 h.
CREATE TABLE cc.idempotency (
  scope       text NOT NULL,      -- tenant id or 'operator'
  key         text NOT NULL,
  method      text NOT NULL,
  path        text NOT NULL,
  status      integer NOT NULL,
  body        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
