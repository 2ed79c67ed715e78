"""Airbyte's Salesforce source through PyAirbyte into its Postgres cache, timed, for
BENCHMARKS.md.

`python airbyte_backfill.py` with AIRBYTE_SOURCE (the local `source-salesforce`
executable, installed from PyPI beside PyAirbyte), AIRBYTE_OFFLINE_MODE=1, SF_CLIENT_ID,
SF_CLIENT_SECRET, SF_REFRESH_TOKEN and PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE set.
Reads the Account stream with the source's defaults (no start date: the last two years;
`force_use_bulk_api` off) into the cache's schema `airbyte`, timed around `read` (which
includes the source's discover, as PyAirbyte runs it). Prints one JSON line.
"""

import json
import os
import sys
import time

import airbyte as ab
from airbyte.caches import PostgresCache


def main() -> int:
    source = ab.get_source(
        "source-salesforce",
        config={
            "client_id": os.environ["SF_CLIENT_ID"],
            "client_secret": os.environ["SF_CLIENT_SECRET"],
            "refresh_token": os.environ["SF_REFRESH_TOKEN"],
            "is_sandbox": False,
        },
        local_executable=os.environ["AIRBYTE_SOURCE"],
        install_if_missing=False,
    )
    source.select_streams(["Account"])
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
    print(json.dumps({"seconds": seconds, "records": records}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
