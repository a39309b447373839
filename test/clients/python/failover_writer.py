"""A Delphi pipeline writer on libpq (psycopg), as `eos self secrets exec --on-rotate signal:HUP`
runs it on a site with a primary and a standby: PG_DSN lists both hosts with
target_session_attrs=read-write, so libpq itself finds the primary at every connection.

It writes WRITER_RATE alerts a second for WRITER_SECONDS, each its own transaction under a
unique alert_hash, and keeps account the way a worker that must lose nothing does:
- acked: the commit was answered; the row must be on whatever server is primary afterwards;
- in doubt: the statement was sent and the session died before an answer; it may or may not
  have committed, and is never sent again under the same id;
- a failed connection is no write at all: it reconnects and goes on.
On SIGHUP it reads the new credentials from EOS_DB_CREDENTIALS_FILE (eos's rotation). At the end
it prints one JSON line: the acked and in-doubt ids, and when writes stopped and started again.
"""
import json
import os
import shlex
import signal
import time

import psycopg

RATE = float(os.environ.get("WRITER_RATE", "100"))
SECONDS = float(os.environ.get("WRITER_SECONDS", "15"))
PREFIX = os.environ.get("WRITER_PREFIX", "failover")

dsn = os.environ["PG_DSN"]
stop = False


def reread(*_):
    """New credentials: the next connection uses them (the open one lives until it breaks)."""
    global dsn
    with open(os.environ["EOS_DB_CREDENTIALS_FILE"]) as f:
        for line in f:
            name, _, value = line.rstrip("\n").partition("=")
            if name == "PG_DSN":
                dsn = shlex.split(value)[0]


def end(*_):
    global stop
    stop = True


signal.signal(signal.SIGHUP, reread)
signal.signal(signal.SIGTERM, end)

INSERT = (
    "INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) "
    "SELECT %s, agent_id, rule_id, rule_level, rule_desc, raw FROM alerts WHERE agent_id IS NOT NULL LIMIT 1"
)

acked, in_doubt = [], []
connect_failures = 0
last_ack = None
longest_gap = {"ms": 0, "from": None, "to": None}
# Every stretch of 50 ms or more without an acknowledged write (five missed beats): from the last ack to the next.
outages = []
conn = None
started = time.time()
n = 0
while not stop and time.time() - started < SECONDS:
    due = started + n / RATE
    pause = due - time.time()
    if pause > 0:
        time.sleep(pause)
    if conn is None or conn.closed:
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=2)
        except psycopg.OperationalError:
            connect_failures += 1
            time.sleep(0.05)
            continue
    alert = f"{PREFIX}-{os.getpid()}-{n}"
    n += 1
    try:
        conn.execute(INSERT, (alert,))
    except psycopg.OperationalError:
        # Sent, no answer: it may have committed. Counted, never resent under this id.
        in_doubt.append(alert)
        try:
            conn.close()
        except Exception:
            pass
        conn = None
        continue
    except psycopg.errors.ReadOnlySqlTransaction:
        # A demoted server refused it: nothing was written; reconnect to find the primary.
        conn.close()
        conn = None
        continue
    now = time.time()
    if last_ack is not None and (now - last_ack) * 1000 > longest_gap["ms"]:
        longest_gap = {"ms": round((now - last_ack) * 1000), "from": last_ack, "to": now}
    if last_ack is not None and now - last_ack >= 0.05 and len(outages) < 500:
        outages.append({"from": last_ack, "to": now})
    last_ack = now
    acked.append(alert)

print(
    json.dumps(
        {
            "acked": acked,
            "inDoubt": in_doubt,
            "connectFailures": connect_failures,
            "longestGapMs": longest_gap["ms"],
            "gapFrom": longest_gap["from"],
            "gapTo": longest_gap["to"],
            "outages": outages,
        }
    ),
    flush=True,
)
