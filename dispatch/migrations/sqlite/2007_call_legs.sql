-- B2BUA calls (a `dial` flow, later queues): the other leg of the call. `party` is the last
-- party rung (a SIP URI), `answered_by` the one who answered and was connected, `bridged_ms`
-- the connected time in ms (NULL when nobody was connected). Numbered 2007 to leave room for
-- other dispatch migrations of the same release.
ALTER TABLE calls ADD COLUMN party TEXT;
ALTER TABLE calls ADD COLUMN answered_by TEXT;
ALTER TABLE calls ADD COLUMN bridged_ms INTEGER;
