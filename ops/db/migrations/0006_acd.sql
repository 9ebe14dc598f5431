-- The ACD (docs/ACD.md): queues, agents' skills and memberships, the VIP
-- list, pause reasons and disposition codes, dispositions, numbers that
-- point at a queue, and what the call record learns from the ACD. Only
-- configuration and history live here: the ACD's runtime state (agent
-- states, waiting callers) is routingd's, journaled in JetStream (CC_ACD).

CREATE TABLE cc.queues (
  id                  uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL REFERENCES cc.tenants(id),
  name                text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  strategy            text NOT NULL DEFAULT 'longest_idle' CHECK (strategy IN
                        ('ring_all', 'longest_idle', 'round_robin', 'fewest_calls',
                         'least_talk_time', 'random', 'skills')),
  ring_timeout_s      integer NOT NULL DEFAULT 15 CHECK (ring_timeout_s BETWEEN 5 AND 120),
  wrapup_s            integer NOT NULL DEFAULT 10 CHECK (wrapup_s BETWEEN 0 AND 3600),
  max_wait_s          integer NOT NULL DEFAULT 300 CHECK (max_wait_s BETWEEN 0 AND 86400), -- 0: no limit
  max_size            integer NOT NULL DEFAULT 50 CHECK (max_size BETWEEN 0 AND 10000),  -- 0: no limit
  -- where a caller goes after max_wait_s, or when the queue is full
  overflow_type       text CHECK (overflow_type IN ('queue', 'agent', 'number', 'flow', 'hangup')),
  overflow_target     text,                 -- queue / flow name, extension, +E.164; NULL for hangup
  overflow_prompt     text,                 -- hangup: the prompt played first (default goodbye)
  music               text NOT NULL DEFAULT 'hold_music',  -- a prompt name
  announce_position   boolean NOT NULL DEFAULT true,
  announce_wait       boolean NOT NULL DEFAULT true,
  announce_every_s    integer NOT NULL DEFAULT 30 CHECK (announce_every_s BETWEEN 10 AND 600),
  service_level_s     integer NOT NULL DEFAULT 20 CHECK (service_level_s BETWEEN 1 AND 3600),
  required_skills     jsonb NOT NULL DEFAULT '{}',  -- {"repair":2}: skill -> minimum level 1..5
  sticky_within_days  integer NOT NULL DEFAULT 0 CHECK (sticky_within_days BETWEEN 0 AND 365), -- 0: off
  sticky_ring_s       integer NOT NULL DEFAULT 15 CHECK (sticky_ring_s BETWEEN 5 AND 120),
  callback            boolean NOT NULL DEFAULT false,
  callback_retries    integer NOT NULL DEFAULT 2 CHECK (callback_retries BETWEEN 0 AND 10),
  callback_interval_s integer NOT NULL DEFAULT 60 CHECK (callback_interval_s BETWEEN 10 AND 3600),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT queues_tenant_name_key UNIQUE (tenant_id, name),
  CONSTRAINT queues_tenant_id_key UNIQUE (tenant_id, id),
  CONSTRAINT queues_overflow_whole CHECK (
    (overflow_type IS NULL AND overflow_target IS NULL) OR
    (overflow_type = 'hangup' AND overflow_target IS NULL) OR
    (overflow_type IN ('queue', 'agent', 'number', 'flow') AND overflow_target IS NOT NULL))
);

-- Agents: skills with levels 1..5, a team for reports.
ALTER TABLE cc.agents
  ADD COLUMN skills jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN team   text CHECK (team ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  ADD CONSTRAINT agents_tenant_id_key UNIQUE (tenant_id, id);

-- An agent's membership of a queue of its own tenant; priority 1 is offered first.
CREATE TABLE cc.queue_members (
  tenant_id  uuid NOT NULL,
  queue_id   uuid NOT NULL,
  agent_id   uuid NOT NULL,
  priority   integer NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 100),
  PRIMARY KEY (queue_id, agent_id),
  FOREIGN KEY (tenant_id, queue_id) REFERENCES cc.queues (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, agent_id) REFERENCES cc.agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX queue_members_agent_idx ON cc.queue_members (agent_id);

-- The VIP green channel: callers queued ahead of every non-VIP caller,
-- offered first to their dedicated agent (when named and ready).
CREATE TABLE cc.viplist (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  e164        text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{5,14}$'),
  priority    integer NOT NULL DEFAULT 10 CHECK (priority BETWEEN 1 AND 100),
  agent_id    uuid,
  queue_id    uuid,
  note        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT viplist_tenant_e164_key UNIQUE (tenant_id, e164),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES cc.agents (tenant_id, id) ON DELETE SET NULL (agent_id),
  FOREIGN KEY (tenant_id, queue_id) REFERENCES cc.queues (tenant_id, id) ON DELETE SET NULL (queue_id)
);

-- Per-tenant lists. A tenant with no rows uses the defaults
-- (pause: break, lunch, meeting, training, missed_calls;
--  disposition: complaint, consultation, suggestion).
CREATE TABLE cc.pause_reasons (
  tenant_id  uuid NOT NULL REFERENCES cc.tenants(id),
  code       text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
  label      text,
  PRIMARY KEY (tenant_id, code)
);
CREATE TABLE cc.disposition_codes (
  tenant_id  uuid NOT NULL REFERENCES cc.tenants(id),
  code       text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
  label      text,
  PRIMARY KEY (tenant_id, code)
);

-- A number's target may be a queue of the same tenant.
ALTER TABLE cc.numbers DROP CONSTRAINT numbers_target_type_check;
ALTER TABLE cc.numbers DROP CONSTRAINT numbers_target_whole;
ALTER TABLE cc.numbers
  ADD COLUMN target_queue uuid,
  ADD CONSTRAINT numbers_target_type_check CHECK (target_type IN ('agent', 'flow', 'queue')),
  ADD CONSTRAINT numbers_target_whole CHECK (
    (target_type IS NULL AND target_extension IS NULL AND target_flow IS NULL AND target_queue IS NULL) OR
    (target_type = 'agent' AND target_extension IS NOT NULL AND target_flow IS NULL AND target_queue IS NULL) OR
    (target_type = 'flow' AND target_flow IS NOT NULL AND target_extension IS NULL AND target_queue IS NULL) OR
    (target_type = 'queue' AND target_queue IS NOT NULL AND target_extension IS NULL AND target_flow IS NULL)),
  ADD CONSTRAINT numbers_target_queue_fkey FOREIGN KEY (tenant_id, target_queue)
    REFERENCES cc.queues (tenant_id, id);

-- What the call record learns from the ACD (billingd, from the events of
-- docs/ACD.md). The agent who answered is cc.calls.agent.
ALTER TABLE cc.calls
  ADD COLUMN queue            text,
  ADD COLUMN queue_wait_ms    integer,
  ADD COLUMN queue_result     text,      -- answered | abandoned | overflowed | blocked
  ADD COLUMN hold_ms          integer NOT NULL DEFAULT 0,
  ADD COLUMN holds            integer NOT NULL DEFAULT 0,
  ADD COLUMN transfers        integer NOT NULL DEFAULT 0,
  ADD COLUMN disposition      text,
  ADD COLUMN disposition_note text;
-- the sticky agent: a caller's last answered queue call with the tenant
CREATE INDEX calls_sticky_idx ON cc.calls (tenant_id, from_number, answered_at DESC)
  WHERE queue IS NOT NULL AND answered_at IS NOT NULL;
