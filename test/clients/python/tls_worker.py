"""A Delphi pipeline worker on libpq (psycopg), as `eos self secrets exec` runs it on a site
where PostgreSQL takes TLS connections only: it connects with nothing but PG_DSN, so libpq's own
TLS checks (sslmode, sslrootcert from the DSN) decide whether it gets in. It prints, as one JSON
line, who it is and what libpq and the server say about the connection's TLS, then reads until
SIGTERM."""
import json
import os
import signal
import time

import psycopg

running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

with psycopg.connect(os.environ["PG_DSN"]) as conn:
    params = conn.info.get_parameters()
    user, ssl, protocol = conn.execute(
        "SELECT current_user, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    ).fetchone()
    print(
        json.dumps(
            {
                "user": user,
                "server_ssl": ssl,
                "protocol": protocol,
                "libpq_ssl_in_use": conn.pgconn.ssl_in_use,
                "sslmode": params.get("sslmode"),
                "sslrootcert": params.get("sslrootcert"),
            }
        ),
        flush=True,
    )
    while running:
        conn.execute("SELECT count(*) FROM alerts").fetchone()
        time.sleep(0.2)
print(json.dumps({"stopped": True}), flush=True)
