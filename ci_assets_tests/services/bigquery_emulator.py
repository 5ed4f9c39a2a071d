"""Launch bqemulator on a given port: `python -m ci_assets_tests.services.bigquery_emulator PORT`.

The emulator insists on loading DuckDB's `spatial` extension, which it cannot
download on a machine without internet access; nothing here uses GEOGRAPHY, so
the loader is replaced with a no-op before the server starts.
"""

import sys


def main() -> None:
    from bqemulator.storage.engine import DuckDBEngine

    DuckDBEngine._load_spatial = lambda self: None  # type: ignore[method-assign]
    from bqemulator.cli import main as cli

    port = sys.argv[1]
    sys.argv = ["bqemulator", "start", "--rest-port", port, "--grpc-port", "0", "--ephemeral"]
    sys.argv += ["--log-level", "WARNING"]
    cli()


if __name__ == "__main__":
    main()
