"""Runs the SQL of DDL_FILE (`sluice lake ddl --dialect duckdb` output) in DuckDB, then QUERY,
and prints its rows as one JSON array of arrays (times as epoch milliseconds, other values as
DuckDB returns them).

Usage: duckdb_query.py DDL_FILE QUERY
"""

import json
import sys

import duckdb


def main():
    ddl_file, query = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    with open(ddl_file, encoding="utf-8") as f:
        con.execute(f.read())
    rows = con.execute(query).fetchall()
    print(json.dumps([list(row) for row in rows], default=str))


if __name__ == "__main__":
    main()
