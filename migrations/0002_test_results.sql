-- Answers produced by the playground, each tied to the exact profile version that produced it.

CREATE TABLE test_threads (
    team_id            text NOT NULL,
    channel_id         text NOT NULL,
    thread_ts          text NOT NULL,
    profile_version_id bigint NOT NULL,
    started_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, channel_id, thread_ts),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);

CREATE TABLE test_results (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    profile_version_id bigint NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('test', 'followup', 'scenario', 'ab')),
    channel_id         text,
    thread_ts          text,
    message_ts         text,
    user_id            text NOT NULL,
    question           text NOT NULL,
    answer             text NOT NULL DEFAULT '',
    model              text,
    total_ms           double precision CHECK (total_ms >= 0),
    ttft_ms            double precision CHECK (ttft_ms >= 0),
    prompt_tokens      integer CHECK (prompt_tokens >= 0),
    completion_tokens  integer CHECK (completion_tokens >= 0),
    confidence         double precision CHECK (confidence BETWEEN 0 AND 1),
    proxies            jsonb,
    analysis           jsonb,
    alignment          double precision CHECK (alignment BETWEEN 0 AND 100),
    analysis_error     text,
    interrupted        boolean NOT NULL DEFAULT false,
    error_kind         text,
    error              text,
    dropped_turns      integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);
CREATE INDEX test_results_thread_idx ON test_results (team_id, channel_id, thread_ts, id);
CREATE INDEX test_results_version_idx ON test_results (team_id, profile_version_id, created_at);

-- One rating per person per answer; changing it overwrites that person's row only.
CREATE TABLE result_feedback (
    team_id    text NOT NULL,
    result_id  bigint NOT NULL,
    user_id    text NOT NULL,
    rating     smallint NOT NULL CHECK (rating IN (-1, 1)),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, result_id, user_id),
    FOREIGN KEY (team_id, result_id) REFERENCES test_results (team_id, id) ON DELETE CASCADE
);

-- Slack redelivers events, and one message can arrive both as `message` and `app_mention`:
-- whoever inserts the row first answers it, everyone else sees the conflict and stays quiet.
CREATE TABLE handled_messages (
    team_id    text NOT NULL,
    channel_id text NOT NULL,
    ts         text NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, channel_id, ts)
);
