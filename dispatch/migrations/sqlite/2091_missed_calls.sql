-- Missed calls and callbacks (zvonar_dispatch::missed), and indexes for the caller's card.
-- Numbered 2091 to stay clear of the numbers other dispatch migrations of this release take.

-- One entry per number to call back: the unanswered calls of the number since its last
-- entry closed. Times are UTC text as sqlx writes them.
CREATE TABLE missed_calls (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- E.164 number to call back; NULL when the caller's number is unknown (anonymous).
    number           TEXT,
    -- Start of the first and of the latest missed call of the entry.
    first_at         TEXT NOT NULL,
    last_at          TEXT NOT NULL,
    last_call_id     TEXT NOT NULL,
    calls            INTEGER NOT NULL DEFAULT 1,
    -- The latest call's reason (zvonar_dispatch::MissedReason code).
    reason           TEXT NOT NULL,
    -- Call back by then: first_at plus [missed] callback_within_min of working time.
    due_at           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    first_attempt_at TEXT,
    last_outcome     TEXT,
    closed_at        TEXT,
    -- reached | wrong_number | attempts_exhausted | called_again
    closed_as        TEXT
);
-- At most one open entry per number: repeated calls collapse into it.
CREATE UNIQUE INDEX missed_calls_open_number ON missed_calls (number)
    WHERE status = 'open' AND number IS NOT NULL;
CREATE INDEX missed_calls_status_due ON missed_calls (status, due_at);
CREATE INDEX missed_calls_first ON missed_calls (first_at);

-- Each missed call and the entry it joined.
CREATE TABLE missed_call_calls (
    call_id   TEXT PRIMARY KEY,
    missed_id INTEGER NOT NULL REFERENCES missed_calls (id),
    at        TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX missed_call_calls_entry ON missed_call_calls (missed_id, at);
CREATE INDEX missed_call_calls_at ON missed_call_calls (at);

-- Callback attempts: who called back, when, and what came of it.
CREATE TABLE callback_attempts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    missed_id INTEGER NOT NULL REFERENCES missed_calls (id),
    at        TEXT NOT NULL,
    -- The operator's login.
    by_user   TEXT NOT NULL,
    -- reached | no_answer | busy | wrong_number
    outcome   TEXT NOT NULL,
    comment   TEXT NOT NULL DEFAULT '',
    -- The outgoing call, once the console places calls.
    call_id   TEXT
);
CREATE INDEX callback_attempts_entry ON callback_attempts (missed_id, id);
CREATE INDEX callback_attempts_at ON callback_attempts (at);

-- The caller's card: a caller's calls and tickets.
CREATE INDEX calls_caller ON calls (caller, started_at);
CREATE INDEX tickets_caller ON tickets (caller);
CREATE INDEX tickets_account ON tickets (account_id);
