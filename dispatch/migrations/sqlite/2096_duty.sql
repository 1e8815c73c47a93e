-- Emergency call-outs to staff on duty (zvonar_dispatch::duty, issue 8 point 6). Numbered
-- 2096 to stay clear of the numbers other dispatch migrations of this release take.

-- One roster per department: its shifts (days, local hours, order, person, phone) and the
-- supervisor, as the JSON of zvonar_dispatch::duty::Roster. Replaced whole by the API or the
-- CSV import.
CREATE TABLE duty_rosters (
    department TEXT PRIMARY KEY,
    roster     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- Login of who stored it.
    updated_by TEXT NOT NULL
);

-- The escalation of one emergency ticket (at most one: the primary key), stored after
-- every step so that a restart resumes it: the JSON of zvonar_dispatch::duty::Escalation
-- (callees, every attempt with outcome, SIP code and recording, the state).
CREATE TABLE duty_escalations (
    ticket_id  INTEGER PRIMARY KEY REFERENCES tickets (id),
    department TEXT NOT NULL,
    -- waiting | calling | accepted | unanswered | stopped
    phase      TEXT NOT NULL,
    state      TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX duty_escalations_phase ON duty_escalations (phase);
