-- The `manage_duty` permission (duty rosters of emergency call-outs) is new: admins and
-- supervisors of a database seeded before it get it, as their roles have it by default. A
-- fresh database has no roles yet here and is seeded with it by zvonar_access::migrate.
-- Numbered 7096 to stay clear of other access migrations of this release.
INSERT OR IGNORE INTO role_permissions (role, permission)
SELECT role, 'manage_duty' FROM roles WHERE role IN ('admin', 'supervisor');
