-- Stored message templates of outbound campaigns (issue 8): an admin writes a message once and
-- reuses it. A campaign created from a template copies its text (campaigns.spec), so editing or
-- deleting a template never changes a campaign already created.
CREATE TABLE campaign_templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Shown in the console's list; unique.
    name        TEXT NOT NULL UNIQUE,
    -- The message with {fio}, {address}, {account}, {debt}, {due_date}, {period}
    -- (zvonar_outbound::template; checked when saved).
    text        TEXT NOT NULL,
    -- The optional question after the message (keys 1, 2, 9); NULL: none.
    question    TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
