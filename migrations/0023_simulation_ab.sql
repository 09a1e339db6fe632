-- A/B tests over simulated customers (issue #18): both versions play the same simulated
-- customer, sample by sample with the same seed, and the team votes blind on whole
-- conversations.
--
-- The vote itself is an ordinary A/B test (ab_tests / ab_messages / ab_votes): one ab_message
-- per sample pair, its blind order (a_first) drawn and stored as for scripted pairs, so voting,
-- closing, the verdict and the leaderboard are the scripted A/B's. What is particular to a
-- simulation lives here: the two runs (one per version, the same plan, played quietly: they
-- post nothing labelled with a version before voting closes), the seeds, and which
-- conversations make up each pair.

-- the seed sent with every simulator call of the conversation (NULL: none was asked for), and
-- whether the endpoint took it (false: it refused the parameter and the calls went without)
ALTER TABLE simulation_conversations
    ADD COLUMN seed integer,
    ADD COLUMN seed_honoured boolean;

CREATE TABLE simulation_ab_tests (
    team_id     text NOT NULL,
    ab_test_id  bigint NOT NULL,
    run_a_id    bigint NOT NULL,
    run_b_id    bigint NOT NULL CHECK (run_b_id <> run_a_id),
    repeat      integer NOT NULL CHECK (repeat BETWEEN 1 AND 20),
    -- sample i (over the plan's simulations and their repeats) of both runs uses seed_base + i
    seed_base   integer NOT NULL CHECK (seed_base >= 0),
    -- the job that finishes the last conversation of both runs opens voting (compare-and-set)
    opened_at   timestamptz,
    PRIMARY KEY (team_id, ab_test_id),
    UNIQUE (team_id, run_a_id),
    UNIQUE (team_id, run_b_id),
    FOREIGN KEY (team_id, ab_test_id) REFERENCES ab_tests (team_id, id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, run_a_id) REFERENCES simulation_runs (team_id, id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, run_b_id) REFERENCES simulation_runs (team_id, id) ON DELETE CASCADE
);

-- one blind pair: the same simulation and sample (and seed) played by A and by B
CREATE TABLE simulation_ab_pairs (
    team_id           text NOT NULL,
    ab_message_id     bigint NOT NULL,
    ab_test_id        bigint NOT NULL,
    simulation_id     bigint NOT NULL,
    sample            integer NOT NULL CHECK (sample >= 0),
    conversation_a_id bigint NOT NULL,
    conversation_b_id bigint NOT NULL,
    PRIMARY KEY (team_id, ab_message_id),
    UNIQUE (team_id, ab_test_id, simulation_id, sample),
    FOREIGN KEY (team_id, ab_message_id) REFERENCES ab_messages (team_id, id) ON DELETE CASCADE,
    FOREIGN KEY (team_id, ab_test_id) REFERENCES simulation_ab_tests (team_id, ab_test_id)
        ON DELETE CASCADE,
    FOREIGN KEY (team_id, conversation_a_id) REFERENCES simulation_conversations (team_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (team_id, conversation_b_id) REFERENCES simulation_conversations (team_id, id)
        ON DELETE CASCADE
);
