-- The day the agent is to call the customer back, from the disposition
-- form of the desktop (docs/ACD.md "Dispositions"): billingd writes it
-- from the latest disposition event, with its code and note.
ALTER TABLE cc.calls ADD COLUMN follow_up date;
