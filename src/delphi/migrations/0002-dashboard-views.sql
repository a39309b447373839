-- The views the dashboard reads and the indexes behind them. Each view reads the rollups for
-- its totals and touches the pipeline's tables only through an index: one probe per state,
-- failure type or parser shown, a range over a recent time window (5 minutes, 24 hours), or
-- the alerts still moving, so a refresh costs what is on screen and what happened lately,
-- not the history. Every index here is one the pipeline's writes must also keep up: only
-- partial ones that most writes skip, and one on parser_metrics (bench:writes measures it).

-- step: when an alert entered its state
-- The stage's own timestamp, else its ingest time: how long it has waited where it is.
CREATE FUNCTION eos_entered_at(state alert_state, ingest_timestamp timestamptz, enriched_at timestamptz,
                               response_received_at timestamptz, structured_at timestamptz, formatted_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(CASE state WHEN 'enriched' THEN enriched_at WHEN 'analyzed' THEN response_received_at
                             WHEN 'structured' THEN structured_at WHEN 'formatted' THEN formatted_at END,
                  ingest_timestamp)
$$;

-- step: index: alerts by sent time (throughput)
CREATE INDEX IF NOT EXISTS eos_alerts_sent ON alerts (alert_sent_at DESC) WHERE alert_sent_at IS NOT NULL;

-- step: index: failed alerts, newest first (the Failures list, its pages, parser errors)
CREATE INDEX IF NOT EXISTS eos_alerts_failures ON alerts (ingest_timestamp DESC, id DESC)
  WHERE state <> 'archived' AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL);

-- step: index: parser attempts by group and time (a parser's last use)
CREATE INDEX IF NOT EXISTS eos_parser_metrics_group ON parser_metrics (prompt_type, parser_used, created_at DESC);

-- step: views
-- Per state (archived left out, as pipeline_health does): count, oldest ingest, average age.
CREATE VIEW eos_pipeline_flow AS
SELECT r.state, r.alerts AS count, o.oldest,
       CASE WHEN r.timed > 0 THEN round(extract(epoch FROM now()) - r.ingest_epoch_sum / r.timed, 1) END AS avg_age_seconds,
       CASE
         WHEN r.timed > 0 AND extract(epoch FROM now()) - r.ingest_epoch_sum / r.timed > 3600 THEN 'ATTENTION NEEDED'
         WHEN r.timed > 0 AND extract(epoch FROM now()) - r.ingest_epoch_sum / r.timed > 1800 THEN 'Monitor'
         ELSE 'Healthy'
       END AS health_status
  FROM (SELECT state, alerts::bigint AS alerts, timed::bigint AS timed, ingest_epoch_sum
          FROM eos_alert_state_totals
         WHERE state IS NOT NULL AND state <> 'archived' AND alerts > 0) r
  -- The oldest of a state: the first entry of the state's range of the pipeline's own index
  -- (state, ingest_timestamp DESC), read backwards. The state is bounded as a range, not an
  -- equality, and the order names it: otherwise the planner walks the ingest-time index from
  -- the oldest alert, filtering on state, which after a long history of archived alerts reads
  -- most of the table before it meets the first of a state.
  CROSS JOIN LATERAL (SELECT a.ingest_timestamp AS oldest FROM alerts a
                       WHERE a.state >= r.state AND a.state <= r.state AND a.ingest_timestamp IS NOT NULL
                       ORDER BY a.state DESC, a.ingest_timestamp ASC LIMIT 1) o;

-- Moving states: how many have waited over 10 minutes, 30 minutes, an hour, counted from when
-- they entered the state. It reads the alerts still moving (a healthy pipeline has tens, a
-- stalled one its backlog; never the history) through the pipeline's own (state,
-- ingest_timestamp) index: the literal list lets the planner see how few they are.
CREATE VIEW eos_pipeline_bottlenecks AS
SELECT state,
       count(*) FILTER (WHERE e < now() - interval '1 hour') AS stuck_over_1hr,
       count(*) FILTER (WHERE e < now() - interval '30 minutes') AS stuck_over_30min,
       count(*) FILTER (WHERE e < now() - interval '10 minutes') AS stuck_over_10min,
       count(*) AS total_in_state
  FROM (SELECT state, eos_entered_at(state, ingest_timestamp, enriched_at, response_received_at, structured_at, formatted_at) AS e
          FROM alerts
         WHERE state IN ('new', 'enriched', 'analyzed', 'structured', 'formatted')) moving
 GROUP BY state;

CREATE VIEW eos_parser_performance AS
SELECT p.prompt_type, p.parser_used, p.attempts AS total_attempts, p.successes, p.attempts - p.successes AS failures,
       round(100.0 * p.successes / p.attempts, 2) AS success_rate,
       round(p.parse_ms_sum::numeric / p.attempts, 1) AS avg_duration_ms,
       l.last_used
  FROM (SELECT prompt_type, parser_used, sum(attempts)::bigint AS attempts, sum(successes)::bigint AS successes, sum(parse_ms_sum)::bigint AS parse_ms_sum
          FROM eos_parser_rollup
         GROUP BY prompt_type, parser_used
        HAVING sum(attempts) > 0) p
  CROSS JOIN LATERAL (SELECT max(m.created_at) AS last_used FROM parser_metrics m
                       WHERE m.prompt_type = p.prompt_type AND m.parser_used = p.parser_used) l;

-- Every failed alert, newest first (the dashboard pages through it with LIMIT/OFFSET).
CREATE VIEW eos_failures AS
SELECT id, state, agent_id, rule_level, parser_error, email_error, ingest_timestamp,
       round(extract(epoch FROM now() - ingest_timestamp)::numeric, 0) AS age_seconds,
       eos_failure_type(state, parser_success, email_error) AS failure_reason
  FROM alerts
 WHERE state <> 'archived' AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL)
 ORDER BY ingest_timestamp DESC, id DESC;

CREATE VIEW eos_failure_summary AS
SELECT f.failure_type, f.failures AS count, n.newest_failure
  FROM (SELECT failure_type, sum(failures)::bigint AS failures FROM eos_failure_rollup
         GROUP BY failure_type HAVING sum(failures) > 0) f
  CROSS JOIN LATERAL (
    SELECT max(a.ingest_timestamp) AS newest_failure FROM alerts a
     WHERE a.state <> 'archived' AND (a.state = 'failed' OR a.parser_success = false OR a.email_error IS NOT NULL)
       AND eos_failure_type(a.state, a.parser_success, a.email_error) = f.failure_type) n;

-- Parser errors of the last 24 hours, the 20 commonest (parser_error_analysis over an index).
CREATE VIEW eos_parser_errors AS
SELECT prompt_type, parser_used, parser_error, count(*) AS error_count,
       max(ingest_timestamp) AS most_recent_error
  FROM alerts
 WHERE state <> 'archived' AND parser_success = false AND parser_error IS NOT NULL
   AND ingest_timestamp > now() - interval '24 hours'
 GROUP BY prompt_type, parser_used, parser_error
 ORDER BY error_count DESC, most_recent_error DESC
 LIMIT 20;
