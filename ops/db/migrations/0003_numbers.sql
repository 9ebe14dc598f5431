-- Numbers become the operator's inventory, and outbound PSTN calls get a
-- policy of their own.
--
-- A number is created by the operator (POST /v1/numbers), either as
-- unassigned stock (tenant_id NULL) or assigned to a tenant; a tenant only
-- sets where its assigned numbers ring (the target). Before this, any
-- tenant could claim any number nobody held yet, and its oldest number
-- became its caller ID. Existing numbers stay assigned to their tenants,
-- with their targets, and each tenant gets its oldest number as its
-- explicit caller ID, so nothing changes for them.

ALTER TABLE cc.numbers ALTER COLUMN tenant_id DROP NOT NULL,
  ALTER COLUMN target_type DROP NOT NULL,
  ALTER COLUMN target_extension DROP NOT NULL,
  -- a target needs an owner, and type and extension come together
  ADD CONSTRAINT numbers_target_needs_tenant CHECK (tenant_id IS NOT NULL OR target_type IS NULL),
  ADD CONSTRAINT numbers_target_whole CHECK ((target_type IS NULL) = (target_extension IS NULL)),
  -- what caller IDs point at (the e164 alone is already unique)
  ADD CONSTRAINT numbers_tenant_e164_key UNIQUE (tenant_id, e164);

-- The caller ID of a tenant's PSTN calls, and of one agent's (which wins):
-- always one of that tenant's own numbers (the foreign keys say so; the
-- API clears them before it unassigns or deletes the number).
ALTER TABLE cc.tenants
  ADD COLUMN caller_id text,
  -- outbound PSTN needs a billing plan, or this operator flag
  ADD COLUMN pstn_without_plan boolean NOT NULL DEFAULT false,
  -- operator-set limits on calls through the carrier (NULL: none)
  ADD COLUMN max_concurrent_calls integer CHECK (max_concurrent_calls BETWEEN 0 AND 100000),
  ADD COLUMN max_calls_per_second integer CHECK (max_calls_per_second BETWEEN 0 AND 10000),
  -- what the block list does with a caller number it cannot read
  ADD COLUMN unparseable_callers text NOT NULL DEFAULT 'refuse'
    CHECK (unparseable_callers IN ('refuse', 'allow')),
  ADD CONSTRAINT tenants_caller_id_fkey FOREIGN KEY (id, caller_id)
    REFERENCES cc.numbers (tenant_id, e164);
ALTER TABLE cc.agents
  ADD COLUMN caller_id text,
  ADD CONSTRAINT agents_caller_id_fkey FOREIGN KEY (tenant_id, caller_id)
    REFERENCES cc.numbers (tenant_id, e164);

-- Destinations outbound calls may not reach (premium rate and the like):
-- tenant_id NULL for the platform's list, else one tenant's. Both are
-- set by the operator.
CREATE TABLE cc.refused_prefixes (
  id          uuid PRIMARY KEY,
  tenant_id   uuid REFERENCES cc.tenants(id),
  prefix      text NOT NULL CHECK (prefix ~ '^[0-9]{1,15}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX refused_prefixes_key
  ON cc.refused_prefixes (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), prefix);

-- Number rentals follow the assignment, not the row: stock is nobody's,
-- and a number moved to another tenant is rented by it from then on.
DROP TRIGGER numbers_rental_open ON cc.numbers;
CREATE TRIGGER numbers_rental_open AFTER INSERT ON cc.numbers
  FOR EACH ROW WHEN (NEW.tenant_id IS NOT NULL) EXECUTE FUNCTION cc.rental_open('number', 'e164');
CREATE FUNCTION cc.number_reassigned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cc.rentals SET to_ts = now() WHERE object_id = OLD.id AND to_ts IS NULL;
  IF NEW.tenant_id IS NOT NULL THEN
    INSERT INTO cc.rentals (tenant_id, kind, object_id, label)
    VALUES (NEW.tenant_id, 'number', NEW.id, NEW.e164);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER numbers_rental_move AFTER UPDATE OF tenant_id ON cc.numbers
  FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION cc.number_reassigned();

CREATE INDEX numbers_unassigned_idx ON cc.numbers (e164) WHERE tenant_id IS NULL;

-- Existing tenants keep presenting what they presented: their oldest number.
UPDATE cc.tenants t SET caller_id = (
  SELECT n.e164 FROM cc.numbers n WHERE n.tenant_id = t.id ORDER BY n.created_at, n.id LIMIT 1);
