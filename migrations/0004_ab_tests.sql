-- Blind A/B tests between two profile versions, their messages, votes and verdicts.

CREATE TABLE ab_tests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id      text NOT NULL,
    version_a_id bigint NOT NULL,
    version_b_id bigint NOT NULL CHECK (version_b_id <> version_a_id),
    started_by   text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    channel_id   text NOT NULL,
    parent_ts    text,
    -- answering: replies are being produced; open: voting; closed: verdict given
    status       text NOT NULL DEFAULT 'answering'
                 CHECK (status IN ('answering', 'open', 'closed')),
    closed_by    text,
    closed_at    timestamptz,
    verdict      jsonb,
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, version_a_id) REFERENCES profile_versions (team_id, id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, version_b_id) REFERENCES profile_versions (team_id, id) ON DELETE CASCADE
);

CREATE TABLE ab_messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id       text NOT NULL,
    ab_test_id    bigint NOT NULL,
    position      integer NOT NULL CHECK (position >= 0),
    message       text NOT NULL,
    -- the blind order, drawn per message and kept: true when "Reply 1" is A
    a_first       boolean NOT NULL,
    result_a_id   bigint,
    result_b_id   bigint,
    message_ts    text,
    -- the automatic judge, asked in both orders: a, b, tie, inconsistent or unavailable
    judge_verdict text CHECK (judge_verdict IN ('a', 'b', 'tie', 'inconsistent', 'unavailable')),
    judge_detail  jsonb,
    UNIQUE (ab_test_id, position),
    UNIQUE (team_id, id),
    FOREIGN KEY (team_id, ab_test_id) REFERENCES ab_tests (team_id, id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, result_a_id) REFERENCES test_results (team_id, id),
    FOREIGN KEY (team_id, result_b_id) REFERENCES test_results (team_id, id)
);

-- One vote per person per message: a second click updates this row, never adds one.
CREATE TABLE ab_votes (
    team_id       text NOT NULL,
    ab_message_id bigint NOT NULL,
    user_id       text NOT NULL,
    choice        text NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad')),
    voted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, ab_message_id, user_id),
    FOREIGN KEY (team_id, ab_message_id) REFERENCES ab_messages (team_id, id) ON DELETE CASCADE
);
CREATE INDEX ab_votes_message_idx ON ab_votes (team_id, ab_message_id);
