-- Company knowledge (facts, products, policies, FAQs) attached to a profile version. Each
-- version has its own copy, so versions stay immutable and A/B tests can compare knowledge.

CREATE TABLE knowledge_items (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id            text NOT NULL,
    profile_version_id bigint NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('company', 'industry', 'product', 'policy', 'faq')),
    -- the id shown to people and to the model: C, I, S1.., P1.., F1..; stable within a version
    ref                text NOT NULL CHECK (ref ~ '^[CISPF][0-9]*$'),
    position           integer NOT NULL,
    question           text CHECK (question IS NULL OR char_length(question) BETWEEN 1 AND 300),
    body               text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    is_example         boolean NOT NULL DEFAULT false,
    search             tsvector GENERATED ALWAYS AS (
                           to_tsvector('english', coalesce(question, '') || ' ' || body)
                       ) STORED,
    UNIQUE (profile_version_id, ref),
    FOREIGN KEY (team_id, profile_version_id) REFERENCES profile_versions (team_id, id)
        ON DELETE CASCADE
);
CREATE INDEX knowledge_items_version_idx ON knowledge_items (team_id, profile_version_id, position);
CREATE INDEX knowledge_items_search_idx ON knowledge_items USING gin (search);

ALTER TABLE test_results
    ADD COLUMN knowledge_given text[],
    ADD COLUMN knowledge_used  text[];
