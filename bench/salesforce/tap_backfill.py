"""tap-salesforce (REST) into meltanolabs-target-postgres, timed, for BENCHMARKS.md.

`python tap_backfill.py discover|sync WORKDIR` with TAP (the tap-salesforce executable),
TARGET (the target-postgres executable) and, for the connection, SF_CLIENT_ID,
SF_CLIENT_SECRET, SF_REFRESH_TOKEN, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE set.
`discover` writes WORKDIR/catalog.json with Account alone selected, replicated
incrementally on SystemModstamp (`replication-key` in the stream's metadata), every field
selected; `sync` pipes the tap into the target (`activate_version: false`, schema `tap`)
and prints one JSON line with the seconds the pipe took.
"""

import json
import os
import subprocess
import sys
import time


def tap_config(workdir: str) -> str:
    path = os.path.join(workdir, "tap.json")
    with open(path, "w") as f:
        json.dump(
            {
                "client_id": os.environ["SF_CLIENT_ID"],
                "client_secret": os.environ["SF_CLIENT_SECRET"],
                "refresh_token": os.environ["SF_REFRESH_TOKEN"],
                "start_date": "2000-01-01T00:00:00Z",
                "api_type": "REST",
                "select_fields_by_default": True,
                "is_sandbox": False,
            },
            f,
        )
    return path


def target_config(workdir: str) -> str:
    path = os.path.join(workdir, "target.json")
    with open(path, "w") as f:
        json.dump(
            {
                "host": os.environ["PGHOST"],
                "port": int(os.environ["PGPORT"]),
                "user": os.environ["PGUSER"],
                "password": os.environ["PGPASSWORD"],
                "database": os.environ["PGDATABASE"],
                "default_target_schema": "tap",
                "activate_version": False,
            },
            f,
        )
    return path


def discover(workdir: str) -> int:
    out = subprocess.run(
        [os.environ["TAP"], "--config", tap_config(workdir), "--discover"],
        check=True,
        capture_output=True,
    )
    catalog = json.loads(out.stdout)
    streams = []
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] != "Account":
            continue
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
                entry["metadata"]["replication-method"] = "INCREMENTAL"
                entry["metadata"]["replication-key"] = "SystemModstamp"
        streams.append(stream)
    if not streams:
        print("the tap's catalog has no Account stream", file=sys.stderr)
        return 1
    with open(os.path.join(workdir, "catalog.json"), "w") as f:
        json.dump({"streams": streams}, f)
    return 0


def sync(workdir: str) -> int:
    started = time.perf_counter()
    tap = subprocess.Popen(
        [
            os.environ["TAP"],
            "--config",
            tap_config(workdir),
            "--properties",
            os.path.join(workdir, "catalog.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(workdir, "tap.log"), "w"),
    )
    target = subprocess.run(
        [os.environ["TARGET"], "--config", target_config(workdir)],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "target.log"), "w"),
    )
    tap.stdout.close()
    tap.wait()
    seconds = time.perf_counter() - started
    if tap.returncode != 0 or target.returncode != 0:
        print(
            f"tap exited {tap.returncode}, target {target.returncode}: see {workdir}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"seconds": seconds}))
    return 0


if __name__ == "__main__":
    mode, workdir = sys.argv[1], sys.argv[2]
    sys.exit(discover(workdir) if mode == "discover" else sync(workdir))
