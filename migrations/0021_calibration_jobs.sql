-- Calibration sweeps as durable jobs (one per cell, on PgQueuer): any process's worker answers
-- and judges a cell, a killed worker's cells are answered by another, and the sweep is reported
-- once, by whichever job stores its last cell.
--
-- calibration_runs: one sweep as asked (Slack or CLI), with everything its cells need copied
-- at the start. No foreign key to the profile version: a version deleted while the sweep runs
-- ends it with a clear message instead of silently deleting the run. `label` ("Support v3")
-- names the version in that message.
CREATE TABLE calibration_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL REFERENCES workspaces (team_id) ON DELETE CASCADE,
    profile_id         bigint NOT NULL,
    profile_version_id bigint NOT NULL,
    label              text NOT NULL,
    traits             text[] NOT NULL CHECK (cardinality(traits) BETWEEN 1 AND 4),
    levels             integer[] NOT NULL CHECK (cardinality(levels) >= 1),
    questions          text[] NOT NULL CHECK (cardinality(questions) >= 1),
    samples            integer NOT NULL CHECK (samples BETWEEN 1 AND 20),
    scenario           text,  -- the scenario asked, or NULL for every scenario's messages
    cost               text NOT NULL,  -- "3 messages × 5 settings × 2 samples = 60 model calls"
    channel_id         text,  -- where it is posted; NULL: a run of `romashka calibrate`
    thread_ts          text,
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'completed', 'failed')),
    failure            text,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    -- the job that stores the last cell claims the report (compare-and-set); `reporter` names
    -- that job, so its retry (the worker died half-way through the report) claims it again
    reported_at        timestamptz,
    reporter           text,
    -- progress edits of the parent, claimed so all processes together edit about once a second
    progress_at        timestamptz,
    UNIQUE (team_id, id)
);

-- calibration_cells: one answer of a sweep, at one setting of one trait, for one question and
-- sample, stored once (the primary key) by its job. `outcome`: ok (the judge's levels in
-- `perceived`), no_levels (model error, empty answer, or no verdict: `error` says which), or
-- failed (the job failed on our side after the queue's retries).
CREATE TABLE calibration_cells (
    team_id      text NOT NULL,
    run_id       bigint NOT NULL,
    trait        text NOT NULL,
    level        integer NOT NULL,
    question_idx integer NOT NULL CHECK (question_idx >= 0),
    sample       integer NOT NULL CHECK (sample >= 0),
    outcome      text NOT NULL CHECK (outcome IN ('ok', 'no_levels', 'failed')),
    answer       text,
    perceived    jsonb,
    proxies      jsonb,
    error        text,
    done_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, run_id, trait, level, question_idx, sample),
    FOREIGN KEY (team_id, run_id) REFERENCES calibration_runs (team_id, id) ON DELETE CASCADE,
    CHECK ((outcome = 'ok') = (perceived IS NOT NULL))
);

-- A stored calibration names the run that made it (NULL for those made before the queue): a
-- report done twice (its job retried) finds its row instead of storing a second one. `report`
-- keeps the comparison lines as shown, and the post and chart claims make each go out once.
ALTER TABLE calibrations
    ADD COLUMN calibration_run_id bigint,
    ADD COLUMN report jsonb,
    ADD COLUMN posted_at timestamptz,
    ADD COLUMN chart_posted_at timestamptz,
    ADD CONSTRAINT calibrations_run_trait_key UNIQUE (team_id, calibration_run_id, trait);
