"""tap-hubspot into meltanolabs-target-postgres, timed, for BENCHMARKS.md.

`python tap_backfill.py discover|sync WORKDIR` with TAP (the tap-hubspot executable),
TARGET (the target-postgres executable) and HUBSPOT_ACCESS_TOKEN (a private app's token,
which the tap takes as `api_key`), PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE set.
`discover` writes WORKDIR/catalog.json with the contacts stream alone selected, every
property selected (the tap asks for the selected ones by name); `sync` pipes the tap into
the target (`activate_version: false`, schema `tap`) and prints one JSON line with the
seconds the pipe took and the peak RSS of each.
"""

import json
import os
import resource
import subprocess
import sys
import time


def tap_config(workdir: str) -> str:
    path = os.path.join(workdir, "tap.json")
    with open(path, "w") as f:
        json.dump(
            {
                "api_key": os.environ["HUBSPOT_ACCESS_TOKEN"],
                "start_date": "2000-01-01T00:00:00Z",
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
        capture_output=True,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr.decode(errors="replace")[-4000:])
        return 1
    catalog = json.loads(out.stdout)
    streams = []
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] != "contacts":
            continue
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
        streams.append(stream)
    if not streams:
        print("the tap's catalog has no contacts stream", file=sys.stderr)
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
    # The target is the only child waited for so far: its peak RSS (Linux: KiB); the tap's
    # comes with its own wait.
    target_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tap.stdout.close()
    _, status, usage = os.wait4(tap.pid, 0)
    tap.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if tap.returncode != 0 or target.returncode != 0:
        print(
            f"tap exited {tap.returncode}, target {target.returncode}: see {workdir}",
            file=sys.stderr,
        )
        return 1
    rss = {"tap": usage.ru_maxrss / 1024, "target": target_rss}
    print(json.dumps({"seconds": seconds, "rss_mb": rss}))
    return 0


if __name__ == "__main__":
    mode, workdir = sys.argv[1], sys.argv[2]
    sys.exit(discover(workdir) if mode == "discover" else sync(workdir))
