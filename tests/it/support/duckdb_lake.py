"""Reads a sluice lake with DuckDB, as an outside reader would, and prints what it saw.

Usage: duckdb_lake.py GLOB [DDL_FILE TABLE]

GLOB is read with read_json_auto(..., hive_partitioning=true), or read_parquet when it names
.parquet objects. When DDL_FILE is given, the
SQL in it (the output of `sluice lake ddl --dialect duckdb`) is executed and TABLE (the view
it creates) is read too, with its `_latest` view. Prints one JSON object:

    {"glob": FACTS, "ddl": FACTS, "ddl_latest": FACTS + {"stale"},
     "latest": {"event_id": ..., "event_time_ms": ...}}

where FACTS = {"count", "distinct_ids", "min_ms", "max_ms", "sources", "misplaced"};
"misplaced" counts rows whose dt/hr partition is not the date/hour of their event time;
"stale" counts rows of the `_latest` view for which TABLE holds a copy parsed later.
"""

import json
import sys

import duckdb


def facts(con, relation):
    row = con.execute(
        f"""
        SELECT
            count(*),
            count(DISTINCT event_id),
            epoch_ms(min(event_time)),
            epoch_ms(max(event_time)),
            list(DISTINCT source ORDER BY source),
            count(*) FILTER (
                WHERE CAST(dt AS DATE) <> CAST(timezone('UTC', event_time) AS DATE)
                   OR CAST(hr AS INTEGER) <> hour(timezone('UTC', event_time))
            )
        FROM {relation}
        """
    ).fetchone()
    count, distinct_ids, min_ms, max_ms, sources, misplaced = row
    return {
        "count": count,
        "distinct_ids": distinct_ids,
        "min_ms": min_ms,
        "max_ms": max_ms,
        "sources": sources,
        "misplaced": misplaced,
    }


def quote(text):
    return "'" + text.replace("'", "''") + "'"


def main():
    glob = sys.argv[1]
    con = duckdb.connect()
    # Times come back as epoch milliseconds, so no Python time zone library is needed.
    con.execute("SET TimeZone = 'UTC'")
    reader = "read_parquet" if glob.endswith(".parquet") else "read_json_auto"
    out = {"glob": facts(con, f"{reader}({quote(glob)}, hive_partitioning = true)")}
    if len(sys.argv) > 3:
        ddl_file, table = sys.argv[2], sys.argv[3]
        with open(ddl_file, encoding="utf-8") as f:
            con.execute(f.read())
        out["ddl"] = facts(con, table)
        latest = facts(con, f"{table}_latest")
        latest["stale"] = con.execute(
            f"""
            SELECT count(*) FROM {table}_latest AS kept
            WHERE EXISTS (
                SELECT 1 FROM {table} AS other
                WHERE other.source = kept.source
                  AND other.event_id = kept.event_id
                  AND other.parse_time > kept.parse_time
            )
            """
        ).fetchone()[0]
        out["ddl_latest"] = latest
        event_id, time_ms = con.execute(
            f"SELECT event_id, epoch_ms(event_time) FROM {table}_latest LIMIT 1"
        ).fetchone()
        out["latest"] = {"event_id": event_id, "event_time_ms": time_ms}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
