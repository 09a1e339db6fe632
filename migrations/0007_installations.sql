-- Slack installations (OAuth, many workspaces) and OAuth state, shared by every app process.

CREATE TABLE slack_installations (
    enterprise_id text NOT NULL DEFAULT '',
    team_id       text NOT NULL DEFAULT '',
    -- the installing user; '' is never stored: each install is kept per installer
    user_id       text NOT NULL,
    data          jsonb NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, team_id, user_id)
);
CREATE INDEX slack_installations_latest_idx
    ON slack_installations (enterprise_id, team_id, installed_at DESC);

CREATE TABLE slack_bots (
    enterprise_id text NOT NULL DEFAULT '',
    team_id       text NOT NULL DEFAULT '',
    data          jsonb NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, team_id)
);

CREATE TABLE slack_oauth_states (
    state      text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
