-- Workspaces, bot profiles and their immutable versions.
-- Every row carries the Slack team id; composite foreign keys make it impossible for a row in one
-- workspace to point at another workspace's profile, whatever id a request carries.

CREATE TABLE workspaces (
    team_id            text PRIMARY KEY CHECK (team_id <> ''),
    default_profile_id bigint,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id         text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 40),
    current_version integer NOT NULL DEFAULT 0 CHECK (current_version >= 0),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, id)
);
CREATE UNIQUE INDEX profiles_team_name_key ON profiles (team_id, lower(name));

ALTER TABLE workspaces
    ADD CONSTRAINT workspaces_default_profile_fkey
    FOREIGN KEY (team_id, default_profile_id) REFERENCES profiles (team_id, id)
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE profile_versions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id             text NOT NULL,
    profile_id          bigint NOT NULL,
    version             integer NOT NULL CHECK (version >= 1),
    bot_name            text NOT NULL CHECK (char_length(bot_name) BETWEEN 1 AND 80),
    avatar_emoji        text NOT NULL CHECK (avatar_emoji ~ '^:[a-z0-9_+''-]{1,98}:$'),
    formality           smallint NOT NULL CHECK (formality BETWEEN 0 AND 100),
    enthusiasm          smallint NOT NULL CHECK (enthusiasm BETWEEN 0 AND 100),
    technical_depth     smallint NOT NULL CHECK (technical_depth BETWEEN 0 AND 100),
    empathy             smallint NOT NULL CHECK (empathy BETWEEN 0 AND 100),
    response_style      text NOT NULL CHECK (response_style IN ('concise', 'detailed', 'conversational')),
    custom_instructions text NOT NULL DEFAULT '' CHECK (char_length(custom_instructions) <= 2000),
    model               text CHECK (model IS NULL OR char_length(model) BETWEEN 1 AND 100),
    note                text,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- the backstop against two concurrent saves taking the same number
    UNIQUE (profile_id, version),
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, profile_id) REFERENCES profiles (team_id, id) ON DELETE CASCADE
);
CREATE INDEX profile_versions_history_idx ON profile_versions (team_id, profile_id, version DESC);

-- Versions are history: nothing may rewrite or remove one (purging a workspace cascades from
-- workspaces, which is the one sanctioned way out).
CREATE FUNCTION profile_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'profile versions are immutable' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER profile_versions_no_update
    BEFORE UPDATE ON profile_versions
    FOR EACH ROW EXECUTE FUNCTION profile_versions_immutable();

CREATE TABLE channel_profiles (
    team_id    text NOT NULL,
    channel_id text NOT NULL,
    profile_id bigint NOT NULL,
    pinned_by  text NOT NULL,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, channel_id),
    FOREIGN KEY (team_id, profile_id) REFERENCES profiles (team_id, id) ON DELETE CASCADE
);
