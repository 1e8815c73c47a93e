-- Recordings deleted by the retention sweep (`[storage] retention_days`): when (UTC). The
-- `recording` path is kept so the API can say the recording expired rather than that there
-- never was one. Numbered 2005 to leave room for other dispatch migrations of the same release.
ALTER TABLE calls ADD COLUMN recording_deleted_at TEXT;
CREATE INDEX calls_started_at ON calls (started_at);
