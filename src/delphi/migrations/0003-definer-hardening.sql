-- The rollup functions run as the admin who applied them (SECURITY DEFINER), at every pipeline
-- write. Migration 1 gave them `search_path = public, pg_temp`, which is safe only where no one
-- else may create objects in `public`: the default before PostgreSQL 15, and still the case on
-- every database upgraded from 14 or older. There, any login — a dashboard's read-only lease —
-- could plant an operator that matches better than PostgreSQL's own (a `<(float8, numeric)` for
-- `random() < 0.00390625`) and have it run as the admin at the next worker's INSERT.
--
-- Each function is made again with `search_path = pg_catalog, pg_temp` and every one of eos's
-- names written out as `public.…`: an unqualified name or operator can then only be
-- PostgreSQL's own (functions and operators are never looked up in pg_temp). What they compute
-- does not change. eos's tables are also taken back from every role but their owner for
-- writing: a worker writes the pipeline's tables, and only the triggers write eos's
-- (docs/design.md §8; docs/security.md).

-- step: folding, with PostgreSQL's own names only
CREATE OR REPLACE FUNCTION eos_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  WITH gone AS (DELETE FROM public.eos_alert_state_rollup RETURNING *)
  INSERT INTO public.eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, sum(alerts), sum(timed), sum(ingest_epoch_sum)
    FROM (SELECT state, alerts, timed, ingest_epoch_sum FROM gone
          UNION ALL
          SELECT from_state, -alerts, -timed, -ingest_epoch_sum FROM gone WHERE moved) g
   GROUP BY state
  HAVING sum(alerts) <> 0 OR sum(timed) <> 0 OR sum(ingest_epoch_sum) <> 0;

  WITH gone AS (DELETE FROM public.eos_failure_rollup RETURNING *)
  INSERT INTO public.eos_failure_rollup
  SELECT failure_type, sum(failures) FROM gone GROUP BY failure_type HAVING sum(failures) <> 0;

  WITH gone AS (DELETE FROM public.eos_parser_rollup RETURNING *)
  INSERT INTO public.eos_parser_rollup
  SELECT prompt_type, parser_used, sum(attempts), sum(successes), sum(parse_ms_sum) FROM gone
  GROUP BY prompt_type, parser_used
  HAVING sum(attempts) <> 0 OR sum(successes) <> 0 OR sum(parse_ms_sum) <> 0;
END
$$;

CREATE OR REPLACE FUNCTION eos_maybe_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF current_setting('transaction_isolation') = 'read committed'
     AND pg_try_advisory_xact_lock(7306080, 1) THEN
    PERFORM public.eos_fold_rollups();
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION eos_fold_rollups(), eos_maybe_fold_rollups() FROM PUBLIC;

-- step: the triggers' functions on alerts, with PostgreSQL's own names only
CREATE OR REPLACE FUNCTION eos_alerts_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_failure text;
  old_failure text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := public.eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
  ELSIF OLD.ingest_timestamp IS NOT DISTINCT FROM NEW.ingest_timestamp THEN
    IF OLD.state IS DISTINCT FROM NEW.state THEN
      INSERT INTO public.eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum, moved, from_state) VALUES
        (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0), true, OLD.state);
    END IF;
    new_failure := public.eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := public.eos_failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  ELSE
    INSERT INTO public.eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (OLD.state, -1, -(OLD.ingest_timestamp IS NOT NULL)::int, -coalesce(extract(epoch FROM OLD.ingest_timestamp), 0)),
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := public.eos_failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := public.eos_failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  END IF;
  IF new_failure IS DISTINCT FROM old_failure THEN
    INSERT INTO public.eos_failure_rollup
    SELECT t, n FROM (VALUES (new_failure, 1), (old_failure, -1)) v(t, n) WHERE t IS NOT NULL;
  END IF;
  IF random() < 0.00390625 THEN PERFORM public.eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION eos_alerts_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO public.eos_alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, -count(*), -count(ingest_timestamp), -coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
    FROM eos_old GROUP BY state;
  INSERT INTO public.eos_failure_rollup
  SELECT t, -count(*) FROM (SELECT public.eos_failure_type(state, parser_success, email_error) AS t FROM eos_old) f
   WHERE t IS NOT NULL GROUP BY t;
  IF random() < 0.00390625 THEN PERFORM public.eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

-- step: the triggers' functions on parser_metrics, with PostgreSQL's own names only
CREATE OR REPLACE FUNCTION eos_parser_metrics_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO public.eos_parser_rollup VALUES (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  ELSE
    INSERT INTO public.eos_parser_rollup VALUES
      (OLD.prompt_type, OLD.parser_used, -1, -OLD.success::int, -OLD.parse_time_ms),
      (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  END IF;
  IF random() < 0.00390625 THEN PERFORM public.eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION eos_parser_metrics_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO public.eos_parser_rollup
  SELECT prompt_type, parser_used, -count(*), -count(*) FILTER (WHERE success), -sum(parse_time_ms)
    FROM eos_old GROUP BY prompt_type, parser_used;
  IF random() < 0.00390625 THEN PERFORM public.eos_maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

-- step: the truncate trigger's function, with PostgreSQL's own names only
CREATE OR REPLACE FUNCTION eos_truncate_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7306080, 1);
  IF TG_TABLE_NAME = 'alerts' THEN
    DELETE FROM public.eos_alert_state_rollup;
    DELETE FROM public.eos_failure_rollup;
  ELSE
    DELETE FROM public.eos_parser_rollup;
  END IF;
  RETURN NULL;
END
$$;
-- Nobody calls these but the triggers, which run them as their owner.
REVOKE EXECUTE ON FUNCTION eos_alerts_rollup_row(), eos_alerts_rollup_deleted(), eos_parser_metrics_rollup_row(),
  eos_parser_metrics_rollup_deleted(), eos_truncate_rollup() FROM PUBLIC;

-- step: only the owner writes eos's tables
-- The engine's group grants (and their default privileges) gave the worker group INSERT and
-- UPDATE on every table of the schema, eos's included: a worker could forge the dashboard's
-- counts or the migration record. Reading them stays allowed (the views read them).
DO $$
DECLARE
  grant_row record;
BEGIN
  FOR grant_row IN
    SELECT DISTINCT c.oid::regclass AS rel, a.grantee
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     WHERE n.nspname = 'public' AND c.relname LIKE 'eos\_%' AND c.relkind IN ('r', 'p')
       AND a.grantee <> c.relowner AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
  LOOP
    IF grant_row.grantee = 0 THEN
      EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM PUBLIC', grant_row.rel);
    ELSE
      EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %I', grant_row.rel, pg_catalog.pg_get_userbyid(grant_row.grantee));
    END IF;
  END LOOP;
END
$$;
