-- People an editor made editors. Workspace admins and owners are editors without a row here:
-- Slack (users.info) is the source of truth for those.

CREATE TABLE editors (
    team_id  text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    user_id  text NOT NULL,
    added_by text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
