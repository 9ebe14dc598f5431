-- Billing (billingd, tenantd's billing routes). Money is integer micro-units
-- (1e-6 of the currency's major unit) in bigint columns named *_micro; a
-- rated line is rounded once, to the currency's minor unit.

-- ISO 4217 codes the platform bills in, with their minor-unit exponent.
CREATE TABLE cc.currencies (
  code        text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
  minor_unit  integer NOT NULL CHECK (minor_unit BETWEEN 0 AND 4)
);
INSERT INTO cc.currencies (code, minor_unit) VALUES
  ('CNY', 2), ('USD', 2), ('EUR', 2), ('GBP', 2), ('HKD', 2), ('SGD', 2), ('INR', 2),
  ('AUD', 2), ('CAD', 2), ('CHF', 2), ('SEK', 2), ('NOK', 2), ('DKK', 2), ('PLN', 2),
  ('BRL', 2), ('MXN', 2), ('ZAR', 2), ('TWD', 2), ('THB', 2), ('MYR', 2), ('PHP', 2),
  ('IDR', 2), ('RUB', 2), ('TRY', 2), ('AED', 2), ('SAR', 2), ('ILS', 2), ('NZD', 2),
  ('JPY', 0), ('KRW', 0), ('VND', 0), ('CLP', 0), ('ISK', 0),
  ('BHD', 3), ('KWD', 3), ('OMR', 3), ('JOD', 3), ('TND', 3);

-- A rate deck; each import adds a version. Versions are immutable.
CREATE TABLE cc.tariffs (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  currency    text NOT NULL REFERENCES cc.currencies(code),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cc.tariff_versions (
  id              uuid PRIMARY KEY,
  tariff_id       uuid NOT NULL REFERENCES cc.tariffs(id),
  version         integer NOT NULL,
  effective_from  timestamptz NOT NULL,
  rows            integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tariff_id, version)
);

-- One CSV row. version_id has no foreign key on purpose: rows are written
-- only by the import, in the transaction that creates their version, and a
-- per-row check costs more than the rest of a million-row import.
-- days: weekday bit mask in the tenant's time zone (bit 0 =
-- Monday .. bit 6 = Sunday, 127 = every day); start_min/end_min: local
-- minutes of the day, end exclusive, start > end wraps past midnight.
CREATE TABLE cc.tariff_rates (
  version_id          uuid NOT NULL,
  line                integer NOT NULL,
  prefix              text NOT NULL,
  description         text NOT NULL,
  rate_per_min_micro  bigint NOT NULL,
  connect_fee_micro   bigint NOT NULL,
  initial_s           integer NOT NULL,
  increment_s         integer NOT NULL,
  min_s               integer NOT NULL,
  days                smallint NOT NULL DEFAULT 127,
  start_min           smallint NOT NULL DEFAULT 0,
  end_min             smallint NOT NULL DEFAULT 1440
);
CREATE INDEX tariff_rates_version_idx ON cc.tariff_rates (version_id);

-- A tenant's billing plan (PUT /v1/tenants/{slug}/billing).
CREATE TABLE cc.billing_plans (
  tenant_id           uuid PRIMARY KEY REFERENCES cc.tenants(id),
  mode                text NOT NULL CHECK (mode IN ('prepaid', 'postpaid')),
  currency            text NOT NULL REFERENCES cc.currencies(code),
  inbound_tariff      uuid REFERENCES cc.tariffs(id),
  outbound_tariff     uuid REFERENCES cc.tariffs(id),
  seat_price_micro    bigint NOT NULL DEFAULT 0 CHECK (seat_price_micro >= 0),
  number_price_micro  bigint NOT NULL DEFAULT 0 CHECK (number_price_micro >= 0),
  credit_limit_micro  bigint NOT NULL DEFAULT 0 CHECK (credit_limit_micro >= 0),
  no_rate             text NOT NULL DEFAULT 'refuse' CHECK (no_rate IN ('refuse', 'free')),
  max_call_s          integer NOT NULL DEFAULT 14400 CHECK (max_call_s BETWEEN 60 AND 86400),
  anchor_day          integer NOT NULL DEFAULT 1 CHECK (anchor_day BETWEEN 1 AND 28),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The ledger: append-only double entry. A transaction's entries sum to
-- zero; a tenant's balance is the sum of its 'tenant' account entries.
-- (tenant, kind, ref) makes every posting idempotent: a top-up's ref is the
-- operator's reference, a rerating's the call id and revision. Usage posts
-- one transaction per billingd batch and tenant whose tenant entry is the
-- sum of the batch's lines; each line names it (rated_lines.txn_id), and a
-- line is keyed on its call leg, so no line is summed twice.
CREATE TABLE cc.ledger_txns (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES cc.tenants(id),
  kind          text NOT NULL CHECK (kind IN ('usage', 'topup', 'adjustment', 'rerate', 'seat', 'number')),
  ref           text NOT NULL,
  currency      text NOT NULL REFERENCES cc.currencies(code),
  memo          text NOT NULL DEFAULT '',
  effective_at  timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, kind, ref)
);

CREATE TABLE cc.ledger_entries (
  id            bigserial PRIMARY KEY,
  txn_id        uuid NOT NULL REFERENCES cc.ledger_txns(id),
  tenant_id     uuid NOT NULL,
  account       text NOT NULL,   -- tenant | revenue:usage | revenue:seats | revenue:numbers | cash | adjustments
  amount_micro  bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_tenant_idx ON cc.ledger_entries (tenant_id, account);

-- Rated lines: the result of rating one call against one deck version.
-- Rerating adds a revision; a revision is never changed. No foreign keys:
-- billingd writes every line from the call's own tenant and the version it
-- just looked up, in one statement, and two checks per line cost a tenth
-- of the posting rate.
CREATE TABLE cc.rated_lines (
  call_id             uuid NOT NULL,
  revision            integer NOT NULL,
  tenant_id           uuid NOT NULL,
  direction           text NOT NULL,
  destination         text NOT NULL,       -- digits rated (called number in, destination out)
  started_at          timestamptz NOT NULL,
  version_id          uuid,                -- cc.tariff_versions.id, NULL when none in force
  prefix              text,                -- matched prefix, NULL when none
  description         text,
  talk_ms             bigint NOT NULL,
  billable_s          integer NOT NULL,
  rate_per_min_micro  bigint NOT NULL,
  connect_fee_micro   bigint NOT NULL,
  exact_micro60       bigint NOT NULL,     -- exact cost x 60, in micro-units
  cost_micro          bigint NOT NULL,     -- rounded once to the minor unit
  rounding            text NOT NULL,       -- e.g. 'half-up to 0.01'
  currency            text NOT NULL,
  flags               text NOT NULL DEFAULT '',  -- no_rate, too_long, capped
  txn_id              uuid,                -- the ledger transaction this line posted in (NULL: cost 0)
  rated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (call_id, revision)
);
CREATE INDEX rated_lines_tenant_idx ON cc.rated_lines (tenant_id, started_at);

-- Credit grants at call setup (billingd). Settled by the call's rated line.
CREATE TABLE cc.grants (
  call_id       uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES cc.tenants(id),
  seconds       integer NOT NULL,
  amount_micro  bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  settled_at    timestamptz
);
CREATE INDEX grants_open_idx ON cc.grants (tenant_id) WHERE settled_at IS NULL;

-- Seat and number history for rental charges: one row per period an
-- agent or number existed, kept by triggers on cc.agents and cc.numbers.
CREATE TABLE cc.rentals (
  id          bigserial PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  kind        text NOT NULL CHECK (kind IN ('seat', 'number')),
  object_id   uuid NOT NULL,
  label       text NOT NULL,
  from_ts     timestamptz NOT NULL DEFAULT now(),
  to_ts       timestamptz
);
CREATE INDEX rentals_tenant_idx ON cc.rentals (tenant_id, kind);

CREATE FUNCTION cc.rental_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cc.rentals (tenant_id, kind, object_id, label)
  VALUES (NEW.tenant_id, TG_ARGV[0], NEW.id, to_jsonb(NEW) ->> TG_ARGV[1]);
  RETURN NEW;
END $$;
CREATE FUNCTION cc.rental_close() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cc.rentals SET to_ts = now() WHERE object_id = OLD.id AND to_ts IS NULL;
  RETURN OLD;
END $$;
CREATE TRIGGER agents_rental_open AFTER INSERT ON cc.agents
  FOR EACH ROW EXECUTE FUNCTION cc.rental_open('seat', 'extension');
CREATE TRIGGER agents_rental_close AFTER DELETE ON cc.agents
  FOR EACH ROW EXECUTE FUNCTION cc.rental_close();
CREATE TRIGGER numbers_rental_open AFTER INSERT ON cc.numbers
  FOR EACH ROW EXECUTE FUNCTION cc.rental_open('number', 'e164');
CREATE TRIGGER numbers_rental_close AFTER DELETE ON cc.numbers
  FOR EACH ROW EXECUTE FUNCTION cc.rental_close();
INSERT INTO cc.rentals (tenant_id, kind, object_id, label, from_ts)
  SELECT tenant_id, 'seat', id, extension, created_at FROM cc.agents;
INSERT INTO cc.rentals (tenant_id, kind, object_id, label, from_ts)
  SELECT tenant_id, 'number', id, e164, created_at FROM cc.numbers;

-- Closed monthly invoices (the current month is computed as a draft).
CREATE TABLE cc.invoices (
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  month       text NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
  body        jsonb NOT NULL,
  closed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, month)
);
