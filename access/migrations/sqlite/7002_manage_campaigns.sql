-- The `manage_campaigns` permission (outbound campaigns) is new: admins of a database seeded
-- before it get it, as the admin role has every permission by default. A fresh database has no
-- roles yet here and is seeded with it by zvonar_access::migrate.
INSERT OR IGNORE INTO role_permissions (role, permission)
SELECT role, 'manage_campaigns' FROM roles WHERE role = 'admin';
