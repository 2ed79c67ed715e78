"""Airbyte's HubSpot source through PyAirbyte into its Postgres cache, timed, for
BENCHMARKS.md.

`python airbyte_backfill.py` with AIRBYTE_SOURCE (the local `source-hubspot` executable,
installed from PyPI into a virtual environment of its own: its airbyte-cdk 6 and
PyAirbyte's airbyte-cdk 7 cannot share one), AIRBYTE_OFFLINE_MODE=1, HUBSPOT_ACCESS_TOKEN
(a private app's token) and PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE set. Reads the
contacts stream with the source's defaults (no start date: everything since 2006; its
default 3 workers) into the cache's schema `airbyte`, timed around `read` (which includes
the source's discover, as PyAirbyte runs it). Prints one JSON line: the seconds, and the
peak RSS of PyAirbyte's process and of the source's.
"""

import json
import os
import resource
import sys
import time

import airbyte as ab
from airbyte.caches import PostgresCache


def main() -> int:
    source = ab.get_source(
        "source-hubspot",
        config={
            "credentials": {
                "credentials_title": "Private App Credentials",
                "access_token": os.environ["HUBSPOT_ACCESS_TOKEN"],
            },
        },
        local_executable=os.environ["AIRBYTE_SOURCE"],
        install_if_missing=False,
    )
    source.select_streams(["contacts"])
    cache = PostgresCache(
        host=os.environ["PGHOST"],
        port=int(os.environ["PGPORT"]),
        username=os.environ["PGUSER"],
        password=os.environ["PGPASSWORD"],
        database=os.environ["PGDATABASE"],
        schema_name="airbyte",
        cache_dir=os.path.join(os.getcwd(), "cache"),
    )
    started = time.perf_counter()
    result = source.read(cache=cache, force_full_refresh=True)
    seconds = time.perf_counter() - started
    records = result.processed_records if hasattr(result, "processed_records") else None
    # Peak RSS (Linux: KiB) of this process (PyAirbyte and its cache writer) and of the
    # largest child it waited for (the source).
    rss = {
        "PyAirbyte": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "source": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    print(json.dumps({"seconds": seconds, "records": records, "rss_mb": rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
