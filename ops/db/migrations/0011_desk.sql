-- The agent desktop's sessions (docs/DESK.md "Sign-in"): an agent signs
-- in with its extension and SIP password; the browser then holds a
-- session cookie (its token's SHA-256 is kept here, never the token) and
-- sends the session's CSRF token with every request that changes
-- something. A session acts as the agent's own key (role agent).
CREATE TABLE cc.desk_sessions (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id) ON DELETE CASCADE,
  agent_id    uuid NOT NULL REFERENCES cc.agents(id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  csrf        text NOT NULL,
  remote      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
CREATE INDEX desk_sessions_agent_idx ON cc.desk_sessions (tenant_id, agent_id);
