-- The rating robot (issue 8, point 5): residents rate completed tickets 1–5 by phone (voice or
-- keys) or through the residents' app (API). Numbered 2120 to stay clear of other dispatch
-- migrations of the same release.

-- When the ticket was last marked done (UTC, RFC 3339 with milliseconds and `Z`): the rating
-- robot calls residents whose tickets were completed since its last run. Set by the trigger
-- below on every change to `done`, whatever path made it.
ALTER TABLE tickets ADD COLUMN done_at TEXT;
CREATE TRIGGER tickets_done_at AFTER UPDATE OF status ON tickets
WHEN NEW.status = 'done' AND OLD.status IS NOT 'done'
BEGIN
    UPDATE tickets SET done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id;
END;
CREATE INDEX tickets_done_at ON tickets (done_at);

-- One rating per ticket (a ticket is rated at most once).
CREATE TABLE ticket_ratings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id     INTEGER NOT NULL UNIQUE REFERENCES tickets (id),
    value         INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    -- voice | keys | api
    source        TEXT NOT NULL,
    -- The resident's comment as recognised (or typed in the app).
    comment       TEXT,
    -- The rating call's recording and the comment's own recording, relative to the
    -- recordings directory.
    recording     TEXT,
    comment_recording TEXT,
    -- The rating call (campaign call id), when rated by phone.
    call_id       TEXT,
    at            TEXT NOT NULL,
    -- Login of the API user (the residents' app), or `robot:rating`.
    by_login      TEXT NOT NULL,
    -- The quality-control ticket a low rating created.
    qc_ticket_id  INTEGER REFERENCES tickets (id),
    -- The ticket was reopened (put back in work) by this rating.
    reopened      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ticket_ratings_at ON ticket_ratings (at);

-- Tickets the rating robot has put into a rating call round: each ticket is called once.
CREATE TABLE rating_calls (
    ticket_id   INTEGER PRIMARY KEY REFERENCES tickets (id),
    campaign_id INTEGER,
    at          TEXT NOT NULL
);

-- The robot's daily runs: `until` of the last one is where the next one's selection starts.
CREATE TABLE rating_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    since       TEXT,
    until       TEXT NOT NULL,
    selected    INTEGER NOT NULL,
    campaign_id INTEGER
);
