-- People checking the judges, and calibrations kept for comparison.
--
-- judge_flags: "the judge was wrong" on one behaviour verdict of a scenario answer, once per
-- person per verdict (the primary key); clicking again deletes the row (undo). `behaviour` is
-- the verdict's behaviour text as stored in test_results.behaviour_results, `judged_passed`
-- the verdict the person disputes, so a flag keeps its meaning if the result is re-judged.
CREATE TABLE judge_flags (
    team_id       text NOT NULL,
    result_id     bigint NOT NULL,
    behaviour     text NOT NULL CHECK (length(behaviour) BETWEEN 1 AND 500),
    user_id       text NOT NULL,
    judged_passed boolean NOT NULL,
    flagged_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, result_id, behaviour, user_id),
    FOREIGN KEY (team_id, result_id) REFERENCES test_results (team_id, id) ON DELETE CASCADE
);

-- calibrations: one row per swept trait; a new one is compared with the last of the same
-- profile (any version), trait and scenario. `result` is the pure Calibration as JSON (per-level
-- means and intervals, rho with its interval, slope, dead ranges, leaks); `inputs_hash` is a
-- SHA-256 of what builds the prompts (the version's fields, the questions, the prompt builder's
-- text at the mid setting), so "same calibration, other prompts" is told apart from "same".
CREATE TABLE calibrations (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    profile_id         bigint NOT NULL,
    profile_version_id bigint NOT NULL,
    trait              text NOT NULL,
    scenario           text NOT NULL,  -- a scenario's name, or '' for every scenario
    samples            integer NOT NULL CHECK (samples > 0),
    lost               integer NOT NULL DEFAULT 0 CHECK (lost >= 0),
    inputs_hash        text NOT NULL,
    result             jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);
CREATE INDEX calibrations_last_idx
    ON calibrations (team_id, profile_id, trait, scenario, id DESC);
