-- The `rate_tickets` permission (residents' app sends ratings of completed tickets) is new:
-- admins of a database seeded before it get it, as the admin role has every permission by
-- default. Numbered 7090 to stay clear of other access migrations of the same release.
INSERT OR IGNORE INTO role_permissions (role, permission)
SELECT role, 'rate_tickets' FROM roles WHERE role = 'admin';
