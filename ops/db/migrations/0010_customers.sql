-- The CRM behind the agent desktop (docs/CRM.md): a tenant's customers,
-- their phone numbers (the screen pop looks a caller up by number), the
-- tenant's custom fields, and what search needs.
--
-- Search: `search` is the customer's name and field values, lower-cased
-- (ASCII) and joined by line breaks; `grams` its distinct 1- and
-- 2-character grams as a tsvector, both computed by tenantd (tenantd/grams.c:
-- a SQL function building the grams made the index build 10 times slower).
-- Terms of 1-2 characters go through grams (pg_trgm has no trigram in a
-- 2-character word of Chinese), longer ones through trigrams; both are
-- rechecked with LIKE. btree_gin puts the tenant into the GIN indexes
-- (otherwise the tenant is a filter after the index, over every tenant's
-- hits).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The tenant's custom fields: a customer's "fields" may hold only these,
-- of their type; pop: shown on the screen pop; required: every customer
-- has it.
CREATE TABLE cc.customer_fields (
  tenant_id  uuid NOT NULL REFERENCES cc.tenants(id),
  name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
  type       text NOT NULL CHECK (type IN ('text', 'date', 'number')),
  pop        boolean NOT NULL DEFAULT false,
  required   boolean NOT NULL DEFAULT false,
  position   integer NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE cc.customers (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES cc.tenants(id),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  tier        text NOT NULL DEFAULT 'normal' CHECK (tier IN ('normal', 'vip')),
  fields      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fields) = 'object'),
  search      text NOT NULL,
  grams       tsvector NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customers_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX customers_grams_idx ON cc.customers USING gin (tenant_id, grams);
CREATE INDEX customers_trgm_idx ON cc.customers USING gin (tenant_id, search gin_trgm_ops);
-- a tenant's VIP customers (routingd's VIP list)
CREATE INDEX customers_vip_idx ON cc.customers (tenant_id) WHERE tier = 'vip';

-- A customer's numbers: 1..10, distinct within the customer; several
-- customers may share one (the pop then offers a choice).
CREATE TABLE cc.customer_phones (
  tenant_id    uuid NOT NULL,
  phone        text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  customer_id  uuid NOT NULL,
  position     integer NOT NULL,          -- the order the customer's numbers were given in
  PRIMARY KEY (tenant_id, phone, customer_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES cc.customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_phones_customer_idx ON cc.customer_phones (customer_id);

-- The last calls of a number (the pop, a customer's calls): inbound ones
-- by the caller, outbound ones by the called.
CREATE INDEX calls_tenant_from_idx ON cc.calls (tenant_id, from_number, started_at DESC);
CREATE INDEX calls_tenant_to_idx ON cc.calls (tenant_id, to_number, started_at DESC);
