-- Interactive answers (/bot test) as durable jobs: the app that acks stores the request and
-- queues its job in one transaction; a worker (in the app or `romashka worker`) answers it.
--
-- started_at:  claimed by the job before anything is posted: a job that finds it set (its
--              worker died mid-answer, or a retry) never answers again, it says so once.
-- finished_at: the answer (or its failure message) is in the thread.
-- notice_at:   the one "interrupted" message of a job run again after a claimed start.
-- A cascade from the profile version: a request whose version was deleted goes with it, and
-- its job (which names the version, the channel and the thread) says so in the thread.
CREATE TABLE interactive_answers (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    channel_id         text NOT NULL,
    thread_ts          text NOT NULL,
    user_id            text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('test', 'followup')),
    profile_version_id bigint NOT NULL,
    turns              jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    notice_at          timestamptz,
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);
CREATE INDEX interactive_answers_unstarted ON interactive_answers (created_at)
    WHERE started_at IS NULL;

-- Processes serving interactive answers, each beating here while its worker runs: an app
-- with WORKER_IN_APP=false and none of these alive tells the person to start `romashka
-- worker` instead of leaving the question unanswered in silence. Not workspace data.
CREATE TABLE interactive_workers (
    worker_id  text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at    timestamptz NOT NULL DEFAULT now()
);
