-- Simulated customers: scenarios in which a simulator model plays the customer for a whole
-- conversation with the bot, judged at the end (goal, behaviours) and per bot turn (traits).
--
-- Kept apart from `scenarios` (whose messages are required) and `scenario_runs` (whose results
-- are one row per message): a simulation run's unit is a conversation, stored once per
-- (run, simulation, sample), and its turns once per (conversation, turn), so a retried job
-- continues where the stored turns end and never posts a turn twice.

ALTER TABLE workspaces ADD COLUMN simulations_seeded boolean NOT NULL DEFAULT false;

CREATE TABLE simulation_scenarios (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id     text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    -- who they are, mood, expertise, what they want, what makes them give up, facts they hold
    persona     jsonb NOT NULL,
    goal        text NOT NULL CHECK (char_length(goal) BETWEEN 1 AND 300),
    behaviours  text[] NOT NULL DEFAULT '{}' CHECK (cardinality(behaviours) <= 10),
    turn_limit  integer NOT NULL DEFAULT 8 CHECK (turn_limit BETWEEN 1 AND 20),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    UNIQUE (team_id, id)
);
CREATE UNIQUE INDEX simulation_scenarios_live_name_key
    ON simulation_scenarios (team_id, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE simulation_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    profile_version_id bigint NOT NULL,
    started_by         text NOT NULL,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    -- what was run, copied at the start: [{simulation_id, name, persona, goal, ...}, ...]
    plan               jsonb NOT NULL,
    repeat             integer NOT NULL DEFAULT 1 CHECK (repeat BETWEEN 1 AND 20),
    channel_id         text,
    parent_ts          text,
    -- the job that finishes the last conversation claims the report (compare-and-set)
    reported_at        timestamptz,
    summary            jsonb,
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);

CREATE TABLE simulation_conversations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id       text NOT NULL,
    run_id        bigint NOT NULL,
    simulation_id bigint NOT NULL,
    sample        integer NOT NULL CHECK (sample >= 0),
    -- how it ended: goal_met, gave_up, turn_limit, simulator_fault, model_error; NULL running
    ending        text CHECK (ending IN ('goal_met', 'gave_up', 'turn_limit', 'simulator_fault',
                                         'model_error', 'internal')),
    fault         text,
    -- the judges' findings and the drift figures, filled when the conversation ends
    outcome       jsonb,
    done_at       timestamptz,
    UNIQUE (team_id, run_id, simulation_id, sample),
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, run_id) REFERENCES simulation_runs (team_id, id) ON DELETE CASCADE
);

CREATE TABLE simulation_turns (
    team_id         text NOT NULL,
    conversation_id bigint NOT NULL,
    -- 0, 1, 2...: even turns are the customer's, odd ones the bot's
    turn            integer NOT NULL CHECK (turn >= 0),
    text            text NOT NULL,
    -- customer turns: continue / goal_met / gave_up, as the simulator said
    state           text,
    -- bot turns: the stored answer (its analysis is the per-turn trait judgement)
    result_id       bigint,
    posted_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, turn),
    FOREIGN KEY (team_id, conversation_id) REFERENCES simulation_conversations (team_id, id)
        ON DELETE CASCADE
);
