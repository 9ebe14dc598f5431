-- Credit in slices, and leases that outlive a billingd restart
-- (docs/BILLING.md, "Credit at call setup").
--
-- A call's credit is granted in slices (a first one at setup, top-ups
-- while it talks): one cc.grants row per slice, keyed on the call and
-- routingd's sequence number of that take (holder: the routingd). The
-- call's rated line settles every row of the call.
ALTER TABLE cc.grants DROP CONSTRAINT grants_pkey;
ALTER TABLE cc.grants ADD COLUMN seq bigint NOT NULL DEFAULT 0;
ALTER TABLE cc.grants ADD COLUMN holder uuid;
ALTER TABLE cc.grants ADD PRIMARY KEY (call_id, seq);
CREATE INDEX grants_holder_idx ON cc.grants (tenant_id, holder, seq) WHERE settled_at IS NULL;

-- The block of a tenant's credit billingd leased to one routingd, as of
-- that routingd's last lease request: written before the answer leaves,
-- so a billingd killed and started again honours every lease a routingd
-- may be granting from. What the holder took since (its grants with a
-- higher seq) is subtracted when the lease is read back.
CREATE TABLE cc.credit_leases (
  tenant_id     uuid NOT NULL REFERENCES cc.tenants(id),
  holder        uuid NOT NULL,
  amount_micro  bigint NOT NULL CHECK (amount_micro >= 0),
  synced_seq    bigint NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, holder)
);
