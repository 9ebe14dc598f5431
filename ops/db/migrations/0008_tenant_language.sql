-- The tenant's language (issue 14: position and wait announcements "in the
-- tenant's language"): what mediad speaks to the tenant's callers where a
-- prompt exists in both (the ACD's position, wait and callback prompts).
-- 'zh' (Mandarin, the default every tenant had so far) or 'en'.
ALTER TABLE cc.tenants ADD COLUMN language text NOT NULL DEFAULT 'zh'
  CHECK (language IN ('zh', 'en'));
