-- CDRs of the calls zvonar places itself (campaigns, the rating robot, emergency call-outs to
-- staff on duty), written from `outbound_started`/`outbound_ended` events like inbound CDRs, so
-- that the retention sweep also removes their recordings and the calls list shows them.
-- `direction`: `outbound`, NULL for inbound calls. `campaign_id`: the campaign (or rating round)
-- of the call. `outcome`: `answered`, `busy`, `no_answer`, `answering_machine`,
-- `invalid_number`, `failed` (outbound only). The duty call-out's ticket goes in `ticket_id`.
-- Numbered 2131 to leave room for other dispatch migrations of the same release.
ALTER TABLE calls ADD COLUMN direction TEXT;
ALTER TABLE calls ADD COLUMN campaign_id INTEGER;
ALTER TABLE calls ADD COLUMN outcome TEXT;
