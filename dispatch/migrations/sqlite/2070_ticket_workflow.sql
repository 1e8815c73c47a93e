-- The ticket workflow of the operators' console (issue 7): the deadline from the topic's SLA,
-- the department and executor a ticket is assigned to, the result of the work, who entered
-- it, when it last changed; comments and photos. Numbered 2070 to stay clear of other
-- dispatch migrations of the same release.
ALTER TABLE tickets ADD COLUMN due_at TEXT;
ALTER TABLE tickets ADD COLUMN department TEXT;
-- The executor's user id (access crate) and their name when assigned (shown and exported).
ALTER TABLE tickets ADD COLUMN executor_id INTEGER;
ALTER TABLE tickets ADD COLUMN executor TEXT;
ALTER TABLE tickets ADD COLUMN result TEXT;
ALTER TABLE tickets ADD COLUMN updated_at TEXT;
-- Login of the person who entered it in the console; NULL when the robot filed it.
ALTER TABLE tickets ADD COLUMN created_by TEXT;
CREATE INDEX tickets_created_at ON tickets (created_at);

CREATE TABLE ticket_comments (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at        TEXT NOT NULL,
    -- The author's login.
    author    TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, id);

CREATE TABLE ticket_photos (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    at           TEXT NOT NULL,
    author       TEXT NOT NULL,
    -- Path relative to the photos directory (`<ticket id>/<uuid>.jpg`).
    file         TEXT NOT NULL,
    -- image/jpeg, image/png or image/webp (checked against the file's first bytes).
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    -- The file name as uploaded, for display only.
    name         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_photos_ticket ON ticket_photos (ticket_id, id);
