-- Test scenarios (editable, soft-deleted) and the runs that execute them against a version.

ALTER TABLE workspaces ADD COLUMN scenarios_seeded boolean NOT NULL DEFAULT false;

CREATE TABLE scenarios (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 300),
    messages    text[] NOT NULL CHECK (cardinality(messages) BETWEEN 1 AND 20),
    behaviours  text[] NOT NULL DEFAULT '{}' CHECK (cardinality(behaviours) <= 10),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- deleting hides a scenario; runs keep their own copy of what they ran (scenario_runs.plan)
    deleted_at  timestamptz,
    UNIQUE (team_id, id)
);
CREATE UNIQUE INDEX scenarios_live_name_key ON scenarios (team_id, lower(name))
    WHERE deleted_at IS NULL;

CREATE TABLE scenario_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    profile_version_id bigint NOT NULL,
    started_by         text NOT NULL,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    heartbeat_at       timestamptz NOT NULL DEFAULT now(),
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'completed', 'interrupted')),
    concurrency        integer NOT NULL CHECK (concurrency BETWEEN 1 AND 64),
    -- what was run, copied at the start: [{scenario_id, name, messages, behaviours}, ...]
    plan               jsonb NOT NULL,
    totals             jsonb,
    channel_id         text,
    parent_ts          text,
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);
CREATE INDEX scenario_runs_status_idx ON scenario_runs (status, heartbeat_at)
    WHERE status = 'running';

ALTER TABLE test_results
    ADD COLUMN run_id            bigint,
    ADD COLUMN scenario_id       bigint,
    ADD COLUMN scenario_name     text,
    ADD COLUMN position          integer,
    ADD COLUMN behaviour_results jsonb,
    ADD CONSTRAINT test_results_run_fkey
        FOREIGN KEY (team_id, run_id) REFERENCES scenario_runs (team_id, id) ON DELETE CASCADE;
CREATE INDEX test_results_run_idx ON test_results (team_id, run_id, scenario_id, position)
    WHERE run_id IS NOT NULL;
