-- Purging a workspace deletes its workspaces row and everything cascades from it. Event
-- de-duplication rows are the one table not tied to a profile or workspace, so tie them too;
-- and remember when a workspace uninstalled the app, for the retention sweep.

DELETE FROM handled_messages h
WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.team_id = h.team_id);
INSERT INTO workspaces (team_id)
SELECT DISTINCT team_id FROM handled_messages ON CONFLICT DO NOTHING;
ALTER TABLE handled_messages
    ADD CONSTRAINT handled_messages_team_fkey
    FOREIGN KEY (team_id) REFERENCES workspaces (team_id) ON DELETE CASCADE;

ALTER TABLE workspaces ADD COLUMN uninstalled_at timestamptz;
