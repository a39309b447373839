"""The seed's worker snippet, run for real: hvac against the Vault API, psycopg against PostgreSQL.

Reads VAULT_ADDR and VAULT_TOKEN (a token holding only eos-delphi-reader) and DB_HOST, DB_PORT,
DB_NAME. Prints one JSON object per step on stdout; never a password.
"""
import json
import os
import sys

import hvac
import psycopg

ROLE = os.environ.get("EOS_ROLE", "delphi-readonly")


def step(name, **fields):
    print(json.dumps({"step": name, **fields}), flush=True)


def get_dynamic_db_credentials(client):
    """The seed's function, as written there: a plain read of database/creds/<role>."""
    response = client.read(f"database/creds/{ROLE}")
    return {
        "username": response["data"]["username"],
        "password": response["data"]["password"],
        "lease_id": response["lease_id"],
        "lease_duration": response["lease_duration"],
    }


def connect(creds):
    conninfo = psycopg.conninfo.make_conninfo(
        host=os.environ["DB_HOST"], port=os.environ["DB_PORT"], dbname=os.environ["DB_NAME"],
        user=creds["username"], password=creds["password"], connect_timeout=10,
    )
    return psycopg.connect(conninfo)


def main():
    client = hvac.Client(url=os.getenv("VAULT_ADDR"))
    client.token = os.getenv("VAULT_TOKEN")
    step("authenticated", ok=client.is_authenticated())
    step("initialized", ok=client.sys.is_initialized())
    step("leader", ha_enabled=client.sys.read_leader_status()["ha_enabled"])

    seed = get_dynamic_db_credentials(client)
    step("seed-read", username=seed["username"], lease_duration=seed["lease_duration"])
    # Revoked with the lease in the path: eos's policies grant revocation of this role's leases
    # only, which a policy can say only of the path form (hvac's revoke_lease sends it in the body).
    client.write(f"sys/leases/revoke/{seed['lease_id']}")

    # hvac's own call for the same thing.
    response = client.secrets.database.generate_credentials(name=ROLE)
    creds = {"username": response["data"]["username"], "password": response["data"]["password"], "lease_id": response["lease_id"]}
    step("generate_credentials", username=creds["username"], lease_duration=response["lease_duration"], renewable=response["renewable"])

    with connect(creds) as conn:
        count = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        user = conn.execute("SELECT current_user").fetchone()[0]
    step("select", alerts=count, current_user=user)

    renewed = client.sys.renew_lease(lease_id=creds["lease_id"], increment=60)
    step("renew", lease_duration=renewed["lease_duration"], lease_id_matches=renewed["lease_id"] == creds["lease_id"])

    looked = client.sys.read_lease(lease_id=creds["lease_id"])
    step("lookup", ttl=looked["data"]["ttl"])

    client.write(f"sys/leases/revoke/{creds['lease_id']}")
    try:
        connect(creds).close()
        step("revoked", login_refused=False)
    except psycopg.OperationalError as err:
        step("revoked", login_refused=True, reason=str(err).strip().splitlines()[-1][:200])

    # What the reader token may not do: the worker's role.
    try:
        client.secrets.database.generate_credentials(name="delphi-worker")
        step("worker-role", refused=False)
    except hvac.exceptions.Forbidden:
        step("worker-role", refused=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # one line for the test to show
        print(json.dumps({"step": "error", "type": type(err).__name__, "message": str(err)[:500]}), flush=True)
        sys.exit(1)
