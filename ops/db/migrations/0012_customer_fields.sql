-- A custom field may not take the name of a customer's own attribute
-- (docs/CRM.md "Custom fields"): a CSV column named name, phones or tier
-- is that attribute, and id would read as the customer's, so a field of
-- that name could never be imported and would confuse every reader.
-- NOT VALID: a tenant that declared one before keeps it until its next
-- PUT of the list (which re-inserts every row, then checked).
ALTER TABLE cc.customer_fields DROP CONSTRAINT customer_fields_name_check;
ALTER TABLE cc.customer_fields ADD CONSTRAINT customer_fields_name_check
  CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$' AND name NOT IN ('name', 'phones', 'tier', 'id')) NOT VALID;
