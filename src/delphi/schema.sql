-- The Delphi pipeline's own schema (docs/design.md §12): what the sandbox and
-- the tests install as Delphi would. eos's objects (the dashboard's views, indexes and rollups)
-- are not here: `eos delphi schema apply` installs them (src/delphi/migrations/). Written to be
-- applied again and again: every object is created only when missing or replaced in place. Faults of the
-- original fixed here: re-appliable types, indexes and triggers; parser_metrics.alert_id is a
-- BIGINT like the key it references; token counts are all null or all non-negative; NOTIFY is
-- sent for every state change (sent, failed and archived included); bottlenecks are measured
-- from the time an alert entered its current state rather than from ingest.

DO $$
BEGIN
  CREATE TYPE alert_state AS ENUM
    ('new', 'enriched', 'analyzed', 'structured', 'formatted', 'sent', 'failed', 'archived');
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

CREATE TABLE IF NOT EXISTS agents (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL UNIQUE,
  ip                  TEXT,
  os                  TEXT,
  registered          TIMESTAMPTZ NOT NULL,
  last_seen           TIMESTAMPTZ DEFAULT now(),
  disconnection_time  TIMESTAMPTZ,
  agent_version       TEXT,
  register_ip         TEXT,
  node_name           TEXT,
  config_sum          TEXT,
  merged_sum          TEXT,
  group_config_status TEXT,
  status_text         TEXT,
  status_code_api     INT,
  groups              JSONB DEFAULT '[]'::jsonb,
  manager_name        TEXT,
  api_response        JSONB,
  api_fetch_timestamp TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_agents_status_text ON agents (status_text);
CREATE INDEX IF NOT EXISTS idx_agents_last_seen ON agents (last_seen DESC);
CREATE INDEX IF NOT EXISTS idx_agents_groups ON agents USING GIN (groups);

CREATE TABLE IF NOT EXISTS alerts (
  id                   BIGSERIAL PRIMARY KEY,
  alert_hash           TEXT UNIQUE NOT NULL,
  agent_id             TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  rule_id              INT NOT NULL,
  rule_level           INT NOT NULL CHECK (rule_level BETWEEN 0 AND 15),
  rule_desc            TEXT NOT NULL,
  raw                  JSONB NOT NULL,
  state                alert_state DEFAULT 'new',
  ingest_timestamp     TIMESTAMPTZ DEFAULT now(),
  agent_data           JSONB,
  enriched_at          TIMESTAMPTZ,
  prompt_type          VARCHAR(50),
  prompt_template      TEXT,
  prompt_text          TEXT,
  prompt_sent_at       TIMESTAMPTZ,
  response_text        TEXT,
  response_received_at TIMESTAMPTZ,
  prompt_tokens        INT,
  completion_tokens    INT,
  total_tokens         INT,
  parser_used          VARCHAR(50),
  parser_success       BOOL,
  parser_error         TEXT,
  parser_duration_ms   INT,
  structured_data      JSONB,
  structured_at        TIMESTAMPTZ,
  formatted_data       JSONB,
  formatted_at         TIMESTAMPTZ,
  email_recipients     JSONB,
  email_error          TEXT,
  email_retry_count    INT DEFAULT 0,
  alert_sent_at        TIMESTAMPTZ,
  archived_at          TIMESTAMPTZ,
  CONSTRAINT alerts_token_counts CHECK (
    (prompt_tokens IS NULL AND completion_tokens IS NULL AND total_tokens IS NULL)
    OR (prompt_tokens IS NOT NULL AND completion_tokens IS NOT NULL AND total_tokens IS NOT NULL
        AND prompt_tokens >= 0 AND completion_tokens >= 0 AND total_tokens >= 0)
  )
);

CREATE INDEX IF NOT EXISTS idx_alerts_state_ingest ON alerts (state, ingest_timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_alerts_agent_rule ON alerts (agent_id, rule_id);
CREATE INDEX IF NOT EXISTS idx_alerts_prompt_type ON alerts (prompt_type) WHERE prompt_type IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_alerts_parser ON alerts (parser_used, parser_success) WHERE parser_used IS NOT NULL;

CREATE TABLE IF NOT EXISTS parser_metrics (
  id                 SERIAL PRIMARY KEY,
  alert_id           BIGINT REFERENCES alerts (id) ON DELETE CASCADE,
  prompt_type        VARCHAR(100) NOT NULL,
  parser_used        VARCHAR(100) NOT NULL,
  success            BOOL NOT NULL,
  parse_time_ms      INT NOT NULL,
  sections_extracted INT DEFAULT 0,
  error_message      TEXT,
  created_at         TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_parser_metrics_alert ON parser_metrics (alert_id);

-- Notifications: workers and the dashboard wake on these channels; the payload is the alert id.
CREATE OR REPLACE FUNCTION notify_new_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('new_alert', NEW.id::text);
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION notify_alert_state_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- alert_enriched, alert_analyzed, alert_structured, alert_formatted, alert_sent,
  -- alert_failed, alert_archived. An alert sent back to 'new' is announced like a new one.
  IF NEW.state = 'new' THEN
    PERFORM pg_notify('new_alert', NEW.id::text);
  ELSE
    PERFORM pg_notify('alert_' || NEW.state::text, NEW.id::text);
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS trg_alerts_notify_insert ON alerts;
CREATE TRIGGER trg_alerts_notify_insert
  AFTER INSERT ON alerts
  FOR EACH ROW EXECUTE FUNCTION notify_new_alert();

DROP TRIGGER IF EXISTS trg_alerts_notify_state ON alerts;
CREATE TRIGGER trg_alerts_notify_state
  AFTER UPDATE OF state ON alerts
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION notify_alert_state_change();

-- Views: all exclude archived alerts.
CREATE OR REPLACE VIEW pipeline_health AS
SELECT
  state,
  count(*) AS count,
  min(ingest_timestamp) AS oldest,
  max(ingest_timestamp) AS newest,
  round(avg(extract(epoch FROM now() - ingest_timestamp))::numeric, 1) AS avg_age_seconds,
  round((avg(extract(epoch FROM now() - ingest_timestamp)) / 60)::numeric, 1) AS avg_age_minutes,
  CASE
    WHEN avg(extract(epoch FROM now() - ingest_timestamp)) > 3600 THEN 'ATTENTION NEEDED'
    WHEN avg(extract(epoch FROM now() - ingest_timestamp)) > 1800 THEN 'Monitor'
    ELSE 'Healthy'
  END AS health_status
FROM alerts
WHERE state <> 'archived'
GROUP BY state;

-- Bottlenecks count from when an alert entered its current state: the stage's own timestamp,
-- else its ingest.
CREATE OR REPLACE VIEW pipeline_bottlenecks AS
SELECT
  state,
  count(*) FILTER (WHERE entered < now() - interval '1 hour') AS stuck_over_1hr,
  count(*) FILTER (WHERE entered < now() - interval '30 minutes') AS stuck_over_30min,
  count(*) FILTER (WHERE entered < now() - interval '10 minutes') AS stuck_over_10min,
  count(*) AS total_in_state
FROM (
  SELECT state,
         COALESCE(CASE state WHEN 'enriched' THEN enriched_at WHEN 'analyzed' THEN response_received_at
                             WHEN 'structured' THEN structured_at WHEN 'formatted' THEN formatted_at END,
                  ingest_timestamp) AS entered
    FROM alerts
   WHERE state IN ('new', 'enriched', 'analyzed', 'structured', 'formatted')
) moving
GROUP BY state;

CREATE OR REPLACE VIEW parser_performance AS
SELECT
  prompt_type,
  parser_used,
  count(*) AS total_attempts,
  count(*) FILTER (WHERE success) AS successes,
  count(*) FILTER (WHERE NOT success) AS failures,
  round(100.0 * count(*) FILTER (WHERE success) / count(*), 2) AS success_rate,
  round(avg(parse_time_ms)::numeric, 1) AS avg_duration_ms,
  min(parse_time_ms) AS min_duration_ms,
  max(parse_time_ms) AS max_duration_ms,
  max(created_at) AS last_used
FROM parser_metrics
GROUP BY prompt_type, parser_used;

CREATE OR REPLACE VIEW parser_error_analysis AS
SELECT
  prompt_type,
  parser_used,
  parser_error,
  count(*) AS error_count,
  max(COALESCE(structured_at, response_received_at, ingest_timestamp)) AS most_recent_error,
  (array_agg(id ORDER BY id DESC))[1:10] AS affected_alert_ids
FROM alerts
WHERE parser_success = false
  AND parser_error IS NOT NULL
  AND state <> 'archived'
  AND ingest_timestamp > now() - interval '24 hours'
GROUP BY prompt_type, parser_used, parser_error
ORDER BY error_count DESC, most_recent_error DESC
LIMIT 20;

-- One place that says what counts as a failure and why, shared by the two failure views.
CREATE OR REPLACE VIEW alert_failures AS
SELECT
  id, state, agent_id, rule_level, parser_error, email_error, ingest_timestamp,
  CASE
    WHEN email_error IS NOT NULL THEN 'email delivery'
    WHEN parser_success = false THEN 'parser'
    ELSE 'pipeline'
  END AS failure_reason
FROM alerts
WHERE state <> 'archived'
  AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL);

CREATE OR REPLACE VIEW recent_failures AS
SELECT
  id, state, agent_id, rule_level, parser_error, email_error, ingest_timestamp,
  round(extract(epoch FROM now() - ingest_timestamp)::numeric, 0) AS age_seconds,
  CASE
    WHEN ingest_timestamp > now() - interval '1 hour' THEN 'last hour'
    WHEN ingest_timestamp > now() - interval '24 hours' THEN 'last 24 hours'
    ELSE 'older'
  END AS recency,
  failure_reason
FROM alert_failures
ORDER BY ingest_timestamp DESC, id DESC
LIMIT 50;

CREATE OR REPLACE VIEW failure_summary AS
SELECT
  failure_reason AS failure_type,
  count(*) AS count,
  min(ingest_timestamp) AS oldest_failure,
  max(ingest_timestamp) AS newest_failure
FROM alert_failures
GROUP BY failure_reason;

CREATE OR REPLACE FUNCTION archive_old_alerts(days int DEFAULT 30) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  archived integer;
BEGIN
  UPDATE alerts
     SET state = 'archived', archived_at = now()
   WHERE state IN ('sent', 'failed')
     AND ingest_timestamp < now() - make_interval(days => days);
  GET DIAGNOSTICS archived = ROW_COUNT;
  RETURN archived;
END
$$;

CREATE OR REPLACE FUNCTION get_pipeline_stats()
RETURNS TABLE (state alert_state, alert_count bigint, oldest timestamptz, avg_age_seconds numeric)
LANGUAGE sql STABLE AS $$
  SELECT a.state, count(*), min(a.ingest_timestamp),
         round(avg(extract(epoch FROM now() - a.ingest_timestamp))::numeric, 1)
  FROM alerts a
  WHERE a.state <> 'archived'
  GROUP BY a.state
  ORDER BY a.state
$$;
