-- The key the event subscriber gives each call event before writing it (a UUID). An event
-- retried from the spool after a failure or a restart carries the same key, so it is written
-- once. NULL for rows not written from the event stream (`ticket_filed`).
ALTER TABLE call_events ADD COLUMN event_key TEXT;
CREATE UNIQUE INDEX call_events_key ON call_events (event_key);
