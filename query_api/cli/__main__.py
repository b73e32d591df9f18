"""`python -m query_api.cli`: the `reqlog` command."""

from __future__ import annotations

import sys

from query_api.cli.main import main

sys.exit(main())
