-- Tickets, call detail records, call timelines and callbacks. Owned by zvonar-dispatch;
-- billing migrations are numbered 1xxx. No foreign keys into billing tables: dispatch may
-- run against a database without them.

CREATE TABLE tickets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Human-facing number, the id as text: the first ticket is «1001».
    number      TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    call_id     TEXT,
    -- E.164 caller number.
    caller      TEXT,
    account_id  INTEGER,
    building_id INTEGER,
    premises_id INTEGER,
    apartment   TEXT,
    topic       TEXT NOT NULL,
    emergency   INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    outage_id   INTEGER,
    unfinished  INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'new'
);
CREATE INDEX tickets_call ON tickets (call_id);
-- Ticket ids (and so numbers) start at 1001.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'tickets', 1000 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tickets');

CREATE TABLE calls (
    call_id      TEXT PRIMARY KEY,
    -- E.164 when the caller normalised, else NULL (see caller_raw).
    caller       TEXT,
    caller_raw   TEXT,
    callee       TEXT,
    flow         TEXT,
    transport    TEXT,
    started_at   TEXT,
    answered_at  TEXT,
    ended_at     TEXT,
    -- From start to end, ms.
    duration_ms  INTEGER,
    -- From answer to end, ms (0 when not answered).
    talk_ms      INTEGER,
    disposition  TEXT,
    hangup_cause TEXT,
    -- Relative to the recordings directory; NULL when nothing was recorded.
    recording    TEXT,
    -- The first ticket filed on this call.
    ticket_id    INTEGER REFERENCES tickets (id)
);

CREATE TABLE call_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    at      TEXT NOT NULL,
    -- The CallEventKind serde tag (`started`, `ticket_requested`, …) or `ticket_filed`.
    kind    TEXT NOT NULL,
    -- JSON object: the event's fields without the tag.
    payload TEXT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, id);

CREATE TABLE callbacks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id    TEXT,
    caller     TEXT,
    account_id INTEGER,
    heard      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending'
);
