-- eos rollups: what the dashboard's Overview, Failures and Parsers count, kept current by
-- triggers in the same transaction as the pipeline's own writes, so a refresh reads a few rows
-- per state, failure type and parser instead of the whole history.
--
-- No hot row: a writing statement never updates a rollup row; its statement-level trigger
-- appends the statement's net change (one row per group it touched) and now and then one
-- writer folds every committed change into a single row per group (eos_fold_rollups), under
-- an advisory lock that no writer ever waits for. Readers sum whatever rows a group has.
-- Every figure is a count or an exact sum, so a fold never changes a total and `eos delphi
-- schema verify` can compare each one with a plain GROUP BY over the pipeline's tables.

-- step: rollup tables
CREATE TABLE eos_alert_state_rollup (
  state            alert_state,                -- NULL only if a writer ever sets state to NULL
  alerts           bigint  NOT NULL,
  timed            bigint  NOT NULL,           -- alerts with an ingest time: the average's divisor
  ingest_epoch_sum numeric NOT NULL            -- exact sum of extract(epoch FROM ingest_timestamp)
);
CREATE TABLE eos_failure_rollup (
  failure_type text   NOT NULL,
  failures     bigint NOT NULL
);
CREATE TABLE eos_parser_rollup (
  prompt_type  varchar(100) NOT NULL,
  parser_used  varchar(100) NOT NULL,
  attempts     bigint NOT NULL,
  successes    bigint NOT NULL,
  parse_ms_sum bigint NOT NULL
);
COMMENT ON TABLE eos_alert_state_rollup IS 'eos: alerts per state (sum the rows of a state); kept by triggers, checked by eos delphi schema verify';
COMMENT ON TABLE eos_failure_rollup IS 'eos: failed alerts per failure type (sum the rows of a type); kept by triggers';
COMMENT ON TABLE eos_parser_rollup IS 'eos: parser_metrics per prompt type and parser (sum the rows of a group); kept by triggers';

-- step: failure classification
-- What counts as a failure and why, in one place: the rollup, the failure list and verify all
-- call it. NULL means "not a failure" (archived alerts are never failures any more).
CREATE FUNCTION eos_failure_type(state alert_state, parser_success boolean, email_error text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN state IS NULL OR state = 'archived' THEN NULL
    WHEN email_error IS NOT NULL THEN 'email delivery'
    WHEN parser_success = false THEN 'parser'
    WHEN state = 'failed' THEN 'pipeline'
  END
$$;

-- step: folding
-- Folds every committed change row into one row per group. Callers hold the advisory lock
-- (7306080, 1): the writers' opportunistic folds only try it, verify and the truncate
-- trigger wait for it.
CREATE FUNCTION eos_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH gone AS (DELETE FROM eos_alert_state_rollup RETURNING *)
  INSERT INTO eos_alert_state_rollup
  SELECT state, sum(alerts), sum(timed), sum(ingest_epoch_sum) FROM gone GROUP BY state
  HAVING sum(alerts) <> 0 OR sum(timed) <> 0 OR sum(ingest_epoch_sum) <> 0;

  WITH gone AS (DELETE FROM eos_failure_rollup RETURNING *)
  INSERT INTO eos_failure_rollup
  SELECT failure_type, sum(failures) FROM gone GROUP BY failure_type HAVING sum(failures) <> 0;

  WITH gone AS (DELETE FROM eos_parser_rollup RETURNING *)
  INSERT INTO eos_parser_rollup
  SELECT prompt_type, parser_used, sum(attempts), sum(successes), sum(parse_ms_sum) FROM gone
  GROUP BY prompt_type, parser_used
  HAVING sum(attempts) <> 0 OR sum(successes) <> 0 OR sum(parse_ms_sum) <> 0;
END
$$;

-- Every 64th writing statement (counted across all sessions) tries to fold. Only under READ
-- COMMITTED, the pipeline's default: a REPEATABLE READ writer could meet a row another fold
-- has already removed and fail with a serialization error, and a dashboard must never cause
-- a pipeline write to fail.
CREATE SEQUENCE eos_rollup_writes CYCLE;
CREATE FUNCTION eos_maybe_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF nextval('eos_rollup_writes') % 64 = 0
     AND current_setting('transaction_isolation') = 'read committed'
     AND pg_try_advisory_xact_lock(7306080, 1) THEN
    PERFORM eos_fold_rollups();
  END IF;
END
$$;
-- Only the triggers (running as the owner) fold. A fold only moves values from rows into one
-- row per group, so even two at once would keep every total, but nobody else needs to.
REVOKE EXECUTE ON FUNCTION eos_fold_rollups(), eos_maybe_fold_rollups() FROM PUBLIC;

-- step: triggers on alerts
-- SECURITY DEFINER: the pipeline's worker roles need no privilege on eos's tables.
CREATE FUNCTION eos_alerts_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos_alert_state_rollup
    SELECT state, count(*), count(ingest_timestamp), coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
      FROM eos_new GROUP BY state;
    INSERT INTO eos_failure_rollup
    SELECT t, count(*) FROM (SELECT eos_failure_type(state, parser_success, email_error) AS t FROM eos_new) f
     WHERE t IS NOT NULL GROUP BY t;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO eos_alert_state_rollup
    SELECT state, -count(*), -count(ingest_timestamp), -coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
      FROM eos_old GROUP BY state;
    INSERT INTO eos_failure_rollup
    SELECT t, -count(*) FROM (SELECT eos_failure_type(state, parser_success, email_error) AS t FROM eos_old) f
     WHERE t IS NOT NULL GROUP BY t;
  ELSE
    -- An update's net change: what the new rows add minus what the old rows took. Most of the
    -- pipeline's updates move a state; those that do not add nothing (every sum is zero).
    INSERT INTO eos_alert_state_rollup
    SELECT state, sum(n), sum(timed), sum(s) FROM (
      SELECT state, 1 AS n, (ingest_timestamp IS NOT NULL)::int AS timed, coalesce(extract(epoch FROM ingest_timestamp), 0) AS s FROM eos_new
      UNION ALL
      SELECT state, -1, -(ingest_timestamp IS NOT NULL)::int, -coalesce(extract(epoch FROM ingest_timestamp), 0) FROM eos_old
    ) d GROUP BY state HAVING sum(n) <> 0 OR sum(timed) <> 0 OR sum(s) <> 0;
    INSERT INTO eos_failure_rollup
    SELECT t, sum(n) FROM (
      SELECT eos_failure_type(state, parser_success, email_error) AS t, 1 AS n FROM eos_new
      UNION ALL
      SELECT eos_failure_type(state, parser_success, email_error), -1 FROM eos_old
    ) d WHERE t IS NOT NULL GROUP BY t HAVING sum(n) <> 0;
  END IF;
  PERFORM eos_maybe_fold_rollups();
  RETURN NULL;
END
$$;

CREATE TRIGGER eos_alerts_rollup_insert AFTER INSERT ON alerts
  REFERENCING NEW TABLE AS eos_new FOR EACH STATEMENT EXECUTE FUNCTION eos_alerts_rollup();
CREATE TRIGGER eos_alerts_rollup_update AFTER UPDATE ON alerts
  REFERENCING OLD TABLE AS eos_old NEW TABLE AS eos_new FOR EACH STATEMENT EXECUTE FUNCTION eos_alerts_rollup();
CREATE TRIGGER eos_alerts_rollup_delete AFTER DELETE ON alerts
  REFERENCING OLD TABLE AS eos_old FOR EACH STATEMENT EXECUTE FUNCTION eos_alerts_rollup();

-- step: triggers on parser_metrics
CREATE FUNCTION eos_parser_metrics_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos_parser_rollup
    SELECT prompt_type, parser_used, count(*), count(*) FILTER (WHERE success), sum(parse_time_ms)
      FROM eos_new GROUP BY prompt_type, parser_used;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO eos_parser_rollup
    SELECT prompt_type, parser_used, -count(*), -count(*) FILTER (WHERE success), -sum(parse_time_ms)
      FROM eos_old GROUP BY prompt_type, parser_used;
  ELSE
    INSERT INTO eos_parser_rollup
    SELECT prompt_type, parser_used, sum(n), sum(ok), sum(ms) FROM (
      SELECT prompt_type, parser_used, 1 AS n, success::int AS ok, parse_time_ms::bigint AS ms FROM eos_new
      UNION ALL
      SELECT prompt_type, parser_used, -1, -success::int, -parse_time_ms::bigint FROM eos_old
    ) d GROUP BY prompt_type, parser_used HAVING sum(n) <> 0 OR sum(ok) <> 0 OR sum(ms) <> 0;
  END IF;
  PERFORM eos_maybe_fold_rollups();
  RETURN NULL;
END
$$;

CREATE TRIGGER eos_parser_metrics_rollup_insert AFTER INSERT ON parser_metrics
  REFERENCING NEW TABLE AS eos_new FOR EACH STATEMENT EXECUTE FUNCTION eos_parser_metrics_rollup();
CREATE TRIGGER eos_parser_metrics_rollup_update AFTER UPDATE ON parser_metrics
  REFERENCING OLD TABLE AS eos_old NEW TABLE AS eos_new FOR EACH STATEMENT EXECUTE FUNCTION eos_parser_metrics_rollup();
CREATE TRIGGER eos_parser_metrics_rollup_delete AFTER DELETE ON parser_metrics
  REFERENCING OLD TABLE AS eos_old FOR EACH STATEMENT EXECUTE FUNCTION eos_parser_metrics_rollup();

-- step: truncate triggers
-- TRUNCATE fires no row or delete trigger: it empties the rollups of what it emptied.
CREATE FUNCTION eos_truncate_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7306080, 1);
  IF TG_TABLE_NAME = 'alerts' THEN
    DELETE FROM eos_alert_state_rollup;
    DELETE FROM eos_failure_rollup;
  ELSE
    DELETE FROM eos_parser_rollup;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER eos_alerts_rollup_truncate AFTER TRUNCATE ON alerts
  FOR EACH STATEMENT EXECUTE FUNCTION eos_truncate_rollup();
CREATE TRIGGER eos_parser_metrics_rollup_truncate AFTER TRUNCATE ON parser_metrics
  FOR EACH STATEMENT EXECUTE FUNCTION eos_truncate_rollup();

-- step: backfill the rollups from the pipeline's tables
-- The runner holds alerts and parser_metrics in SHARE ROW EXCLUSIVE mode for the whole
-- migration: no write lands between this count and the triggers above.
INSERT INTO eos_alert_state_rollup
SELECT state, count(*), count(ingest_timestamp), coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
  FROM alerts GROUP BY state;
INSERT INTO eos_failure_rollup
SELECT t, count(*) FROM (SELECT eos_failure_type(state, parser_success, email_error) AS t FROM alerts) f
 WHERE t IS NOT NULL GROUP BY t;
INSERT INTO eos_parser_rollup
SELECT prompt_type, parser_used, count(*), count(*) FILTER (WHERE success), coalesce(sum(parse_time_ms), 0)
  FROM parser_metrics GROUP BY prompt_type, parser_used;
