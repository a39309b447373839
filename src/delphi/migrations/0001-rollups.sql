-- eos rollups: what the dashboard's Overview, Failures and Parsers count, kept current by
-- triggers in the same transaction as the pipeline's own writes, so a refresh reads a few rows
-- per state, failure type and parser instead of the whole history.
--
-- No hot row: a write never updates a rollup row; its trigger appends the change (one row per
-- group it touched, a state change one "move" row) and now and then one writer folds every committed change into a single
-- row per group (eos_fold_rollups), under an advisory lock that no writer ever waits for.
-- Readers sum whatever rows a group has.
-- Every figure is a count or an exact sum, so a fold never changes a total and `eos delphi
-- schema verify` can compare each one with a plain GROUP BY over the pipeline's tables.

-- step: rollup tables
CREATE TABLE eos_alert_state_rollup (
  state            alert_state,                -- NULL only if a writer ever sets state to NULL
  alerts           bigint  NOT NULL,
  timed            bigint  NOT NULL,           -- alerts with an ingest time: the average's divisor
  ingest_epoch_sum numeric NOT NULL,           -- exact sum of extract(epoch FROM ingest_timestamp)
  -- A move: the figures leave from_state as they enter state (one row for a state change, the
  -- pipeline's commonest write, instead of two). Read through eos_alert_state_totals.
  moved            boolean NOT NULL DEFAULT false,
  from_state       alert_state
);
-- Every write appends and folds delete: vacuum these small, busy tables early.
ALTER TABLE eos_alert_state_rollup SET (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 0);
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
ALTER TABLE eos_failure_rollup SET (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE eos_parser_rollup SET (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 0);

-- Alerts per state, moves resolved: what every reader of the state rollup reads.
CREATE VIEW eos_alert_state_totals AS
SELECT state, sum(alerts) AS alerts, sum(timed) AS timed, sum(ingest_epoch_sum) AS ingest_epoch_sum
  FROM (SELECT state, alerts, timed, ingest_epoch_sum FROM eos_alert_state_rollup
        UNION ALL
        SELECT from_state, -alerts, -timed, -ingest_epoch_sum FROM eos_alert_state_rollup WHERE moved) r
 GROUP BY state;

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
  INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, sum(alerts), sum(timed), sum(ingest_epoch_sum)
    FROM (SELECT state, alerts, timed, ingest_epoch_sum FROM gone
          UNION ALL
          SELECT from_state, -alerts, -timed, -ingest_epoch_sum FROM gone WHERE moved) g
   GROUP BY state
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

-- Called by one write in 256, at random: the dice are thrown in the trigger, which is cheaper
-- than a call, and a counter shared by all sessions would be the hot row this design avoids.
-- Folds only under READ COMMITTED, the pipeline's default: a REPEATABLE READ writer could meet
-- a row another fold has already removed and fail with a serialization error, and a dashboard
-- must never cause a pipeline write to fail.
CREATE FUNCTION eos_maybe_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF current_setting('transaction_isolation') = 'read committed'
     AND pg_try_advisory_xact_lock(7306080, 1) THEN
    PERFORM eos_fold_rollups();
  END IF;
END
$$;
-- Only the triggers (running as the owner) fold. A fold only moves values from rows into one
-- row per group, so even two at once would keep every total, but nobody else needs to.
REVOKE EXECUTE ON FUNCTION eos_fold_rollups(), eos_maybe_fold_rollups() FROM PUBLIC;

-- step: triggers on alerts
-- Rows for what a single alert changes (the pipeline inserts and moves one alert at a time):
-- a row trigger, and for updates only when a counted column changed, so an update of the
-- prompt or the response calls nothing. Deletes come in bulk (an agent's cascade, a clean-up):
-- one statement trigger over the deleted rows. SECURITY DEFINER: the pipeline's worker roles
-- need no privilege on eos's tables.
CREATE FUNCTION eos_alerts_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  new_failure text;
  old_failure text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
  ELSIF OLD.ingest_timestamp IS NOT DISTINCT FROM NEW.ingest_timestamp THEN
    IF OLD.state IS DISTINCT FROM NEW.state THEN
      INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum, moved, from_state) VALUES
        (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0), true, OLD.state);
    END IF;
    new_failure := eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := eos_failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  ELSE
    INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (OLD.state, -1, -(OLD.ingest_timestamp IS NOT NULL)::int, -coalesce(extract(epoch FROM OLD.ingest_timestamp), 0)),
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := eos_failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  END IF;
  IF new_failure IS DISTINCT FROM old_failure THEN
    INSERT INTO eos_failure_rollup
    SELECT t, n FROM (VALUES (new_failure, 1), (old_failure, -1)) v(t, n) WHERE t IS NOT NULL;
  END IF;
  IF random() < 0.00390625 THEN PERFORM eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION eos_alerts_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, -count(*), -count(ingest_timestamp), -coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
    FROM eos_old GROUP BY state;
  INSERT INTO eos_failure_rollup
  SELECT t, -count(*) FROM (SELECT eos_failure_type(state, parser_success, email_error) AS t FROM eos_old) f
   WHERE t IS NOT NULL GROUP BY t;
  IF random() < 0.00390625 THEN PERFORM eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER eos_alerts_rollup_insert AFTER INSERT ON alerts
  FOR EACH ROW EXECUTE FUNCTION eos_alerts_rollup_row();
CREATE TRIGGER eos_alerts_rollup_update AFTER UPDATE OF state, ingest_timestamp, parser_success, email_error ON alerts
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.ingest_timestamp IS DISTINCT FROM NEW.ingest_timestamp
        OR OLD.parser_success IS DISTINCT FROM NEW.parser_success OR (OLD.email_error IS NULL) <> (NEW.email_error IS NULL))
  EXECUTE FUNCTION eos_alerts_rollup_row();
CREATE TRIGGER eos_alerts_rollup_delete AFTER DELETE ON alerts
  REFERENCING OLD TABLE AS eos_old FOR EACH STATEMENT EXECUTE FUNCTION eos_alerts_rollup_deleted();

-- step: triggers on parser_metrics
CREATE FUNCTION eos_parser_metrics_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos_parser_rollup VALUES (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  ELSE
    INSERT INTO eos_parser_rollup VALUES
      (OLD.prompt_type, OLD.parser_used, -1, -OLD.success::int, -OLD.parse_time_ms),
      (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  END IF;
  IF random() < 0.00390625 THEN PERFORM eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION eos_parser_metrics_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO eos_parser_rollup
  SELECT prompt_type, parser_used, -count(*), -count(*) FILTER (WHERE success), -sum(parse_time_ms)
    FROM eos_old GROUP BY prompt_type, parser_used;
  IF random() < 0.00390625 THEN PERFORM eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER eos_parser_metrics_rollup_insert AFTER INSERT ON parser_metrics
  FOR EACH ROW EXECUTE FUNCTION eos_parser_metrics_rollup_row();
CREATE TRIGGER eos_parser_metrics_rollup_update AFTER UPDATE OF prompt_type, parser_used, success, parse_time_ms ON parser_metrics
  FOR EACH ROW
  WHEN (OLD.prompt_type IS DISTINCT FROM NEW.prompt_type OR OLD.parser_used IS DISTINCT FROM NEW.parser_used
        OR OLD.success IS DISTINCT FROM NEW.success OR OLD.parse_time_ms IS DISTINCT FROM NEW.parse_time_ms)
  EXECUTE FUNCTION eos_parser_metrics_rollup_row();
CREATE TRIGGER eos_parser_metrics_rollup_delete AFTER DELETE ON parser_metrics
  REFERENCING OLD TABLE AS eos_old FOR EACH STATEMENT EXECUTE FUNCTION eos_parser_metrics_rollup_deleted();

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
INSERT INTO eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
SELECT state, count(*), count(ingest_timestamp), coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
  FROM alerts GROUP BY state;
INSERT INTO eos_failure_rollup
SELECT t, count(*) FROM (SELECT eos_failure_type(state, parser_success, email_error) AS t FROM alerts) f
 WHERE t IS NOT NULL GROUP BY t;
INSERT INTO eos_parser_rollup
SELECT prompt_type, parser_used, count(*), count(*) FILTER (WHERE success), coalesce(sum(parse_time_ms), 0)
  FROM parser_metrics GROUP BY prompt_type, parser_used;
