import type pg from 'pg';

/**
 * One alert every 10 s (8 640 a day): more sample alerts mean a longer history, not a busier
 * pipeline — a real site grows that way, and so the dashboard's benchmark at 10 000 and at
 * 1 000 000 alerts compares the same recent traffic over 28 hours and over 116 days.
 */
export const SECONDS_BETWEEN_ALERTS = 10;

/**
 * Deterministic sample data for the Delphi schema, generated inside PostgreSQL (so a million
 * alerts load in seconds): agents, alerts in every state with plausible ages (moving ones in
 * the last two hours, archived ones after 30 days), parser results, failures and parser
 * metrics. The same size gives the same rows, up to `now()`.
 */
export async function loadSampleData(client: pg.ClientBase, options: { alerts: number; agents?: number }): Promise<void> {
  const agents = options.agents ?? Math.max(5, Math.min(200, Math.round(options.alerts / 1000)));
  // Bulk loading as a superuser skips the NOTIFY triggers (a million notifications help no one).
  await client.query(`SET session_replication_role = replica`).catch(() => undefined);
  try {
    await client.query(
      `INSERT INTO agents (id, name, ip, os, registered, last_seen, status_text, agent_version, groups, manager_name)
       SELECT lpad(i::text, 3, '0'), 'agent-' || lpad(i::text, 3, '0'), '10.0.' || (i / 250) || '.' || (i % 250 + 1),
              (ARRAY['Ubuntu 22.04', 'Debian 12', 'Windows Server 2022', 'RHEL 9'])[i % 4 + 1],
              -- An agent that never connected has never been seen (and sends no alerts, below).
              now() - interval '90 days', CASE WHEN i % 5 = 4 THEN NULL ELSE now() - make_interval(mins => (i * 7) % 180) END,
              (ARRAY['active', 'active', 'active', 'disconnected', 'never_connected'])[i % 5 + 1],
              'v4.7.' || (i % 3), jsonb_build_array('default', (ARRAY['web', 'db', 'dmz'])[i % 3 + 1]), 'wazuh-manager'
         FROM generate_series(0, $1 - 1) AS i
       ON CONFLICT (id) DO NOTHING`,
      [agents],
    );
    const batch = 200_000;
    for (let from = 1; from <= options.alerts; from += batch) {
      const to = Math.min(options.alerts, from + batch - 1);
      await client.query(
        `WITH g AS (
           SELECT i, age,
                  CASE
                    -- The last two hours: some alerts still moving (or stuck) through the stages.
                    WHEN age < interval '2 hours' THEN
                      CASE WHEN i % 100 < 3 THEN 'new' WHEN i % 100 < 5 THEN 'enriched' WHEN i % 100 < 7 THEN 'analyzed'
                           WHEN i % 100 < 9 THEN 'structured' WHEN i % 100 < 10 THEN 'formatted' WHEN i % 100 < 15 THEN 'failed'
                           ELSE 'sent' END
                    -- Older ones are done; after 30 days archive_old_alerts() has archived them.
                    WHEN i % 100 < 5 THEN CASE WHEN age > interval '30 days' THEN 'archived' ELSE 'failed' END
                    ELSE CASE WHEN age > interval '30 days' THEN 'archived' ELSE 'sent' END
                  END::alert_state AS st
             FROM (SELECT i, make_interval(secs => ($4::bigint - i) * ${SECONDS_BETWEEN_ALERTS} + i % ${SECONDS_BETWEEN_ALERTS}) AS age
                     FROM generate_series($1::int, $2::int) AS i) t)
         INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, ingest_timestamp,
                             enriched_at, prompt_type, prompt_sent_at, response_received_at, prompt_tokens, completion_tokens, total_tokens,
                             parser_used, parser_success, parser_error, parser_duration_ms, structured_at, formatted_at,
                             email_error, alert_sent_at, archived_at)
         SELECT 'sample-' || i,
                -- Never-connected agents (every fifth) send nothing: their share goes to the agent before.
                lpad((CASE WHEN (i % $3) % 5 = 4 THEN i % $3 - 1 ELSE i % $3 END)::text, 3, '0'), 5700 + i % 40, i % 16,
                (ARRAY['sshd: authentication failed', 'Multiple web 400 errors', 'File integrity changed', 'New user created', 'Rootcheck anomaly'])[i % 5 + 1],
                jsonb_build_object('rule', 5700 + i % 40), st, now() - age,
                CASE WHEN st NOT IN ('new') THEN now() - age + interval '5 seconds' END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN (ARRAY['security_analysis', 'quick_triage', 'incident_report'])[i % 3 + 1] END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN now() - age + interval '10 seconds' END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN now() - age + interval '40 seconds' END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN 400 + i % 300 END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN 200 + i % 500 END,
                CASE WHEN st NOT IN ('new', 'enriched') THEN 600 + i % 300 + i % 500 END,
                CASE WHEN st IN ('structured', 'formatted', 'sent', 'archived', 'failed') THEN (ARRAY['json', 'regex', 'llm-structured'])[i % 3 + 1] END,
                CASE WHEN st IN ('structured', 'formatted', 'sent', 'archived') THEN true WHEN st = 'failed' THEN i % 2 = 0 END,
                CASE WHEN st = 'failed' AND i % 2 = 1 THEN (ARRAY['no sections found', 'invalid JSON in response', 'missing severity'])[i % 3 + 1] END,
                CASE WHEN st IN ('structured', 'formatted', 'sent', 'archived', 'failed') THEN 5 + i % 120 END,
                CASE WHEN st IN ('structured', 'formatted', 'sent', 'archived') THEN now() - age + interval '45 seconds' END,
                CASE WHEN st IN ('formatted', 'sent', 'archived') THEN now() - age + interval '50 seconds' END,
                CASE WHEN st = 'failed' AND i % 2 = 0 THEN 'SMTP 451: temporary failure' END,
                CASE WHEN st IN ('sent', 'archived') THEN now() - age + interval '55 seconds' END,
                CASE WHEN st = 'archived' THEN now() - age + interval '30 days' END
           FROM g
         ON CONFLICT (alert_hash) DO NOTHING`,
        [from, to, agents, options.alerts],
      );
    }
    await client.query(
      `INSERT INTO parser_metrics (alert_id, prompt_type, parser_used, success, parse_time_ms, sections_extracted, error_message, created_at)
       SELECT id, prompt_type, parser_used, COALESCE(parser_success, false), COALESCE(parser_duration_ms, 10),
              CASE WHEN parser_success THEN 4 ELSE 0 END, parser_error, COALESCE(structured_at, response_received_at, ingest_timestamp)
         FROM alerts WHERE parser_used IS NOT NULL AND id % 10 = 0 AND alert_hash LIKE 'sample-%'`,
    );
  } finally {
    await client.query(`SET session_replication_role = origin`).catch(() => undefined);
  }
  // VACUUM sets the visibility map, so the dashboard's covering indexes serve index-only scans.
  for (const table of ['agents', 'alerts', 'parser_metrics']) await client.query(`VACUUM ANALYZE ${table}`);
}
