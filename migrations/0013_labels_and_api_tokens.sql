-- Labels (production, staging, any a team adds) pointing at one version of a profile, the
-- append-only history of their moves, where a workspace's promotion notices go, and the API
-- tokens the live bot reads its configuration with (only a hash of each is stored).

CREATE TABLE profile_labels (
    team_id    text NOT NULL,
    profile_id bigint NOT NULL,
    label      text NOT NULL CHECK (label ~ '^[a-z0-9][a-z0-9_-]{0,29}$'),
    version    integer NOT NULL,
    moved_by   text NOT NULL,
    moved_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, profile_id, label),
    FOREIGN KEY (team_id, profile_id) REFERENCES profiles (team_id, id) ON DELETE CASCADE,
    -- a label can only point at a version of its own profile
    FOREIGN KEY (profile_id, version) REFERENCES profile_versions (profile_id, version)
);

CREATE TABLE label_moves (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id         text NOT NULL,
    profile_id      bigint NOT NULL,
    label           text NOT NULL,
    from_version    integer,
    to_version      integer NOT NULL,
    moved_by        text NOT NULL,
    moved_at        timestamptz NOT NULL DEFAULT now(),
    -- the gates checked, as shown in the notice ("Billing scenarios 9/9"); NULL: none configured
    gates           text,
    -- an editor promoted past a failing gate, and why
    override_reason text CHECK (override_reason IS NULL OR char_length(override_reason) <= 500),
    FOREIGN KEY (team_id, profile_id) REFERENCES profiles (team_id, id) ON DELETE CASCADE
);
CREATE INDEX label_moves_profile_idx ON label_moves (team_id, profile_id, id DESC);

-- The moves are the audit trail: nothing may rewrite one (purging cascades, as for versions).
CREATE TRIGGER label_moves_no_update
    BEFORE UPDATE ON label_moves
    FOR EACH ROW EXECUTE FUNCTION profile_versions_immutable();

CREATE TABLE api_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id    text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
    -- sha256 of the secret; the secret itself is shown once and never stored
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_by text,
    revoked_at timestamptz,
    last_used_at timestamptz
);
-- a name is reusable once its token is revoked
CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (team_id, lower(name))
    WHERE revoked_at IS NULL;

-- Gates a promotion to a label must pass, per workspace and label (none: promotion is free):
-- a scenario that passed on the version, and/or a closed A/B test against the label's current
-- version that the candidate did not lose.
CREATE TABLE label_gates (
    team_id     text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    label       text NOT NULL CHECK (label ~ '^[a-z0-9][a-z0-9_-]{0,29}$'),
    scenario_id bigint,
    require_ab  boolean NOT NULL DEFAULT false,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, label),
    FOREIGN KEY (team_id, scenario_id) REFERENCES scenarios (team_id, id) ON DELETE CASCADE
);

-- Where a workspace's promotion notices go ("Support v7 is now production (was v5), by @ana").
CREATE TABLE promotion_channels (
    team_id    text PRIMARY KEY REFERENCES workspaces (team_id) ON DELETE CASCADE,
    channel_id text NOT NULL,
    set_by     text NOT NULL,
    set_at     timestamptz NOT NULL DEFAULT now()
);
