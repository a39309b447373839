-- eos's objects move out of `public` into a schema of their own, `eos`, which only the admin
-- who applies eos may create objects in (the migration runner creates it, owned by that admin,
-- and refuses one that someone else owns or may write). Why: everything in `public` shares a
-- namespace with whoever else may create there — PostgreSQL 14's default and every database
-- pg_upgrade'd from it — and eos's SECURITY DEFINER functions, its views (which run as their
-- owner) and the dashboard's queries all resolve names there. In `eos`, nothing but eos's own
-- objects can be found, and a reader needs only USAGE on the schema and SELECT on the views.
--
-- The `eos_` prefix goes with the move (`public.eos_failure_rollup` → `eos.failure_rollup`).
-- The indexes stay with the pipeline's tables (an index lives in its table's schema) and the
-- triggers on them keep their `eos_` names. Views and triggers refer to what they use by
-- object, not by name, and follow the move; the rollup functions name their tables in their
-- bodies, so they are made again below with `eos.` names.

-- step: move eos's tables and views into the schema eos
ALTER TABLE public.eos_alert_state_rollup SET SCHEMA eos;
ALTER TABLE eos.eos_alert_state_rollup RENAME TO alert_state_rollup;
ALTER TABLE public.eos_failure_rollup SET SCHEMA eos;
ALTER TABLE eos.eos_failure_rollup RENAME TO failure_rollup;
ALTER TABLE public.eos_parser_rollup SET SCHEMA eos;
ALTER TABLE eos.eos_parser_rollup RENAME TO parser_rollup;
ALTER VIEW public.eos_alert_state_totals SET SCHEMA eos;
ALTER VIEW eos.eos_alert_state_totals RENAME TO alert_state_totals;
ALTER VIEW public.eos_pipeline_flow SET SCHEMA eos;
ALTER VIEW eos.eos_pipeline_flow RENAME TO pipeline_flow;
ALTER VIEW public.eos_pipeline_bottlenecks SET SCHEMA eos;
ALTER VIEW eos.eos_pipeline_bottlenecks RENAME TO pipeline_bottlenecks;
ALTER VIEW public.eos_parser_performance SET SCHEMA eos;
ALTER VIEW eos.eos_parser_performance RENAME TO parser_performance;
ALTER VIEW public.eos_failures SET SCHEMA eos;
ALTER VIEW eos.eos_failures RENAME TO failures;
ALTER VIEW public.eos_failure_summary SET SCHEMA eos;
ALTER VIEW eos.eos_failure_summary RENAME TO failure_summary;
ALTER VIEW public.eos_parser_errors SET SCHEMA eos;
ALTER VIEW eos.eos_parser_errors RENAME TO parser_errors;

-- step: move eos's functions into the schema eos
ALTER FUNCTION public.eos_failure_type(alert_state, boolean, text) SET SCHEMA eos;
ALTER FUNCTION eos.eos_failure_type(alert_state, boolean, text) RENAME TO failure_type;
ALTER FUNCTION public.eos_entered_at(alert_state, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz) SET SCHEMA eos;
ALTER FUNCTION eos.eos_entered_at(alert_state, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz) RENAME TO entered_at;
ALTER FUNCTION public.eos_fold_rollups() SET SCHEMA eos;
ALTER FUNCTION eos.eos_fold_rollups() RENAME TO fold_rollups;
ALTER FUNCTION public.eos_maybe_fold_rollups() SET SCHEMA eos;
ALTER FUNCTION eos.eos_maybe_fold_rollups() RENAME TO maybe_fold_rollups;
ALTER FUNCTION public.eos_alerts_rollup_row() SET SCHEMA eos;
ALTER FUNCTION eos.eos_alerts_rollup_row() RENAME TO alerts_rollup_row;
ALTER FUNCTION public.eos_alerts_rollup_deleted() SET SCHEMA eos;
ALTER FUNCTION eos.eos_alerts_rollup_deleted() RENAME TO alerts_rollup_deleted;
ALTER FUNCTION public.eos_parser_metrics_rollup_row() SET SCHEMA eos;
ALTER FUNCTION eos.eos_parser_metrics_rollup_row() RENAME TO parser_metrics_rollup_row;
ALTER FUNCTION public.eos_parser_metrics_rollup_deleted() SET SCHEMA eos;
ALTER FUNCTION eos.eos_parser_metrics_rollup_deleted() RENAME TO parser_metrics_rollup_deleted;
ALTER FUNCTION public.eos_truncate_rollup() SET SCHEMA eos;
ALTER FUNCTION eos.eos_truncate_rollup() RENAME TO truncate_rollup;

-- step: folding, naming eos.…
CREATE OR REPLACE FUNCTION eos.fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  WITH gone AS (DELETE FROM eos.alert_state_rollup RETURNING *)
  INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, sum(alerts), sum(timed), sum(ingest_epoch_sum)
    FROM (SELECT state, alerts, timed, ingest_epoch_sum FROM gone
          UNION ALL
          SELECT from_state, -alerts, -timed, -ingest_epoch_sum FROM gone WHERE moved) g
   GROUP BY state
  HAVING sum(alerts) <> 0 OR sum(timed) <> 0 OR sum(ingest_epoch_sum) <> 0;

  WITH gone AS (DELETE FROM eos.failure_rollup RETURNING *)
  INSERT INTO eos.failure_rollup
  SELECT failure_type, sum(failures) FROM gone GROUP BY failure_type HAVING sum(failures) <> 0;

  WITH gone AS (DELETE FROM eos.parser_rollup RETURNING *)
  INSERT INTO eos.parser_rollup
  SELECT prompt_type, parser_used, sum(attempts), sum(successes), sum(parse_ms_sum) FROM gone
  GROUP BY prompt_type, parser_used
  HAVING sum(attempts) <> 0 OR sum(successes) <> 0 OR sum(parse_ms_sum) <> 0;
END
$$;

CREATE OR REPLACE FUNCTION eos.maybe_fold_rollups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF current_setting('transaction_isolation') = 'read committed'
     AND pg_try_advisory_xact_lock(7306080, 1) THEN
    PERFORM eos.fold_rollups();
  END IF;
END
$$;

-- step: the triggers' functions on alerts, naming eos.…
CREATE OR REPLACE FUNCTION eos.alerts_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  new_failure text;
  old_failure text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := eos.failure_type(NEW.state, NEW.parser_success, NEW.email_error);
  ELSIF OLD.ingest_timestamp IS NOT DISTINCT FROM NEW.ingest_timestamp THEN
    IF OLD.state IS DISTINCT FROM NEW.state THEN
      INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum, moved, from_state) VALUES
        (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0), true, OLD.state);
    END IF;
    new_failure := eos.failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := eos.failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  ELSE
    INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES
      (OLD.state, -1, -(OLD.ingest_timestamp IS NOT NULL)::int, -coalesce(extract(epoch FROM OLD.ingest_timestamp), 0)),
      (NEW.state, 1, (NEW.ingest_timestamp IS NOT NULL)::int, coalesce(extract(epoch FROM NEW.ingest_timestamp), 0));
    new_failure := eos.failure_type(NEW.state, NEW.parser_success, NEW.email_error);
    old_failure := eos.failure_type(OLD.state, OLD.parser_success, OLD.email_error);
  END IF;
  IF new_failure IS DISTINCT FROM old_failure THEN
    INSERT INTO eos.failure_rollup
    SELECT t, n FROM (VALUES (new_failure, 1), (old_failure, -1)) v(t, n) WHERE t IS NOT NULL;
  END IF;
  IF random() < 0.00390625 THEN PERFORM eos.maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION eos.alerts_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum)
  SELECT state, -count(*), -count(ingest_timestamp), -coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)
    FROM eos_old GROUP BY state;
  INSERT INTO eos.failure_rollup
  SELECT t, -count(*) FROM (SELECT eos.failure_type(state, parser_success, email_error) AS t FROM eos_old) f
   WHERE t IS NOT NULL GROUP BY t;
  IF random() < 0.00390625 THEN PERFORM eos.maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

-- step: the triggers' functions on parser_metrics, naming eos.…
CREATE OR REPLACE FUNCTION eos.parser_metrics_rollup_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO eos.parser_rollup VALUES (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  ELSE
    INSERT INTO eos.parser_rollup VALUES
      (OLD.prompt_type, OLD.parser_used, -1, -OLD.success::int, -OLD.parse_time_ms),
      (NEW.prompt_type, NEW.parser_used, 1, NEW.success::int, NEW.parse_time_ms);
  END IF;
  IF random() < 0.00390625 THEN PERFORM eos.maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION eos.parser_metrics_rollup_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO eos.parser_rollup
  SELECT prompt_type, parser_used, -count(*), -count(*) FILTER (WHERE success), -sum(parse_time_ms)
    FROM eos_old GROUP BY prompt_type, parser_used;
  IF random() < 0.00390625 THEN PERFORM eos.maybe_fold_rollups(); END IF;
  RETURN NULL;
END
$$;

-- step: the truncate trigger's function, naming eos.…
CREATE OR REPLACE FUNCTION eos.truncate_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7306080, 1);
  IF TG_TABLE_NAME = 'alerts' THEN
    DELETE FROM eos.alert_state_rollup;
    DELETE FROM eos.failure_rollup;
  ELSE
    DELETE FROM eos.parser_rollup;
  END IF;
  RETURN NULL;
END
$$;
-- Moving and replacing a function keeps its privileges; said again so this file stands alone:
-- nobody calls these but the triggers, which run them as their owner.
REVOKE EXECUTE ON FUNCTION eos.fold_rollups(), eos.maybe_fold_rollups(), eos.alerts_rollup_row(), eos.alerts_rollup_deleted(),
  eos.parser_metrics_rollup_row(), eos.parser_metrics_rollup_deleted(), eos.truncate_rollup() FROM PUBLIC;

-- step: the functions the views and triggers call, on PostgreSQL's own operators
-- These two are plain SQL functions, so that the planner can inline them; their bodies are
-- parsed where they are called, with the caller's search_path. Every operator and type in them
-- is therefore named in full: a login that may create in public (or a schema of its own on the
-- admin's path) cannot slip an `=` of its own under a view that runs as the admin.
CREATE OR REPLACE FUNCTION eos.failure_type(state public.alert_state, parser_success boolean, email_error text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN state IS NULL OR state OPERATOR(pg_catalog.=) 'archived'::public.alert_state THEN NULL
    WHEN email_error IS NOT NULL THEN 'email delivery'
    WHEN parser_success OPERATOR(pg_catalog.=) false THEN 'parser'
    WHEN state OPERATOR(pg_catalog.=) 'failed'::public.alert_state THEN 'pipeline'
  END
$$;

CREATE OR REPLACE FUNCTION eos.entered_at(state public.alert_state, ingest_timestamp timestamptz, enriched_at timestamptz,
                                          response_received_at timestamptz, structured_at timestamptz, formatted_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(CASE WHEN state OPERATOR(pg_catalog.=) 'enriched'::public.alert_state THEN enriched_at
                       WHEN state OPERATOR(pg_catalog.=) 'analyzed'::public.alert_state THEN response_received_at
                       WHEN state OPERATOR(pg_catalog.=) 'structured'::public.alert_state THEN structured_at
                       WHEN state OPERATOR(pg_catalog.=) 'formatted'::public.alert_state THEN formatted_at END,
                  ingest_timestamp)
$$;

-- step: only the owner writes anything in eos
-- A view or table made in public took public's default privileges with it: where the engine's
-- set-up ran before eos was installed, the worker group may INSERT and UPDATE through eos's
-- views — some of them simple enough for PostgreSQL to write through, as the view's owner —
-- and 0003 took back only the tables. Everything in eos is read-only to everyone but its
-- owner: every privilege but SELECT is revoked, each on its own (MAINTAIN exists from
-- PostgreSQL 17 on), column grants too, with CASCADE for what a grant option passed on.
DO $$
DECLARE
  g record;
  grantee text;
BEGIN
  FOR g IN
    SELECT DISTINCT c.oid::regclass AS rel, a.grantee AS role, a.privilege_type AS privilege
      FROM pg_class c
      CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     WHERE c.relnamespace = 'eos'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
       AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'
  LOOP
    grantee := CASE WHEN g.role = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.role)) END;
    EXECUTE format('REVOKE %s ON %s FROM %s CASCADE', g.privilege, g.rel, grantee);
  END LOOP;
  FOR g IN
    SELECT DISTINCT c.oid::regclass AS rel, att.attname AS col, a.grantee AS role, a.privilege_type AS privilege
      FROM pg_class c
      JOIN pg_attribute att ON att.attrelid = c.oid AND att.attacl IS NOT NULL
      CROSS JOIN LATERAL aclexplode(att.attacl) a
     WHERE c.relnamespace = 'eos'::regnamespace AND a.privilege_type <> 'SELECT'
  LOOP
    grantee := CASE WHEN g.role = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.role)) END;
    EXECUTE format('REVOKE %s (%I) ON %s FROM %s CASCADE', g.privilege, g.col, g.rel, grantee);
  END LOOP;
END
$$;
