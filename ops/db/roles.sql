-- Who may do what, applied by migrate.sh after every migration run (so a
-- table a later migration adds is covered without a migration of its own).
-- One role per daemon; each writes only what it owns:
--
--   cc_routingd  reads the model (tenants, numbers, agents, trunks, plans,
--                decks); writes nothing, never reads API keys nor the
--                CRM's customers (only their tier and numbers: the VIPs)
--   cc_billingd  writes call records, credit grants, rated lines, ledger
--                postings and invoices: the only writer of money
--   cc_tenantd   the provisioning API: writes every table but billingd's
--                (call records, credit grants, rated lines, the ledger,
--                invoices: top-ups, adjustments, rerates and invoice
--                closing are requests to billingd, billing/rpc.h), and
--                Kamailio's subscriber, domain, address and location tables
--   cc_mediad    mediad's catalog (media/catalog.c): reads prompts, flows,
--                flow versions and tenants (their time zone); writes nothing
--   cc_app       the operator's tools (billing CLI, benchmarks)
--   kamailio     its own schema only
--
-- A new table that only billingd writes must be added to the REVOKE below.
-- Everything runs in one transaction: no moment without the grants.
BEGIN;
-- cc_mediad's login and password come with the stack's other roles
-- (ops/stack.sh, migrate.sh); where they do not yet, the role exists
-- without a login so that these grants apply
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cc_mediad') THEN CREATE ROLE cc_mediad NOLOGIN; END IF;
END $$;
REVOKE ALL ON ALL TABLES IN SCHEMA cc FROM cc_app, cc_routingd, cc_billingd, cc_tenantd, cc_mediad, kamailio;
REVOKE ALL ON ALL TABLES IN SCHEMA kamailio FROM cc_app, cc_routingd, cc_billingd, cc_tenantd;
REVOKE ALL ON SCHEMA kamailio FROM cc_routingd, cc_billingd, cc_mediad;
REVOKE ALL ON SCHEMA cc FROM kamailio;

GRANT USAGE ON SCHEMA kamailio TO kamailio, cc_tenantd, cc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA kamailio TO kamailio, cc_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA kamailio TO kamailio, cc_tenantd, cc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON kamailio.subscriber, kamailio.domain, kamailio.address,
  kamailio.location TO cc_tenantd;

GRANT USAGE ON SCHEMA cc TO cc_app, cc_routingd, cc_billingd, cc_tenantd, cc_mediad;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA cc TO cc_app, cc_billingd, cc_tenantd;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cc TO cc_app;

GRANT SELECT ON ALL TABLES IN SCHEMA cc TO cc_routingd;
-- the desk's sessions (docs/DESK.md) are tenantd's alone
REVOKE SELECT ON cc.api_keys, cc.idempotency, cc.desk_sessions FROM cc_routingd;
-- the CRM (docs/CRM.md) is the tenants' customers' names and details:
-- routingd reads only what its VIP query does (routing/model_acd.c), a
-- customer's tier and its numbers
REVOKE SELECT ON cc.customers, cc.customer_fields FROM cc_routingd;
GRANT SELECT (tenant_id, id, tier) ON cc.customers TO cc_routingd;

GRANT SELECT ON ALL TABLES IN SCHEMA cc TO cc_billingd;
-- billingd has no business in the CRM, nor in the desk's sessions
REVOKE SELECT ON cc.customers, cc.customer_fields, cc.customer_phones, cc.desk_sessions FROM cc_billingd;
GRANT INSERT, UPDATE ON cc.calls, cc.call_events, cc.grants TO cc_billingd;
GRANT INSERT ON cc.rated_lines, cc.ledger_txns, cc.ledger_entries, cc.invoices TO cc_billingd;
-- SELECT ... FOR UPDATE on the account serialises postings
GRANT UPDATE ON cc.billing_plans TO cc_billingd;
-- the leases billingd gave routingds (kept across its restarts)
GRANT INSERT, UPDATE, DELETE ON cc.credit_leases TO cc_billingd;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cc TO cc_tenantd;
REVOKE INSERT, UPDATE, DELETE ON cc.calls, cc.call_events, cc.grants, cc.credit_leases,
  cc.rated_lines, cc.ledger_txns, cc.ledger_entries, cc.invoices FROM cc_tenantd;

GRANT SELECT ON cc.prompts, cc.flows, cc.flow_versions, cc.tenants TO cc_mediad;
-- the recorder (media/recorder.c): its recordings' rows, and the tenant's
-- key-encryption key (made at a tenant's first recording when it has none)
GRANT SELECT, INSERT, UPDATE ON cc.recordings TO cc_mediad;
GRANT SELECT, INSERT ON cc.tenant_keys TO cc_mediad;

-- the audit log and money history are append-only, for every role
REVOKE UPDATE, DELETE, TRUNCATE ON cc.audit FROM cc_app, cc_billingd, cc_tenantd, cc_mediad, cc_routingd;
REVOKE UPDATE, DELETE ON cc.ledger_txns, cc.ledger_entries, cc.rated_lines, cc.tariff_versions,
  cc.tariff_rates FROM cc_app, cc_billingd, cc_tenantd;
COMMIT;
