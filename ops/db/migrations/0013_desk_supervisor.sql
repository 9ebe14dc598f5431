-- The supervisors' wallboard (docs/DESK.md "Wallboard"): a desk session
-- may act as a supervisor. The sign-in says "as":"supervisor"; it is
-- allowed when the extension is the agent of a live supervisor key of the
-- tenant, and the session then keeps that key (its revocation ends the
-- session) and the queues it supervised at sign-in (a queue taken from it
-- since is out of reach at once: tenantd intersects them with the agent's
-- queues of now on every request).
ALTER TABLE cc.desk_sessions
  ADD COLUMN role       text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'supervisor')),
  ADD COLUMN key_id     uuid REFERENCES cc.api_keys(id) ON DELETE CASCADE,
  ADD COLUMN supervises text[],
  ADD CONSTRAINT desk_sessions_supervisor_key CHECK ((role = 'supervisor') = (key_id IS NOT NULL));
