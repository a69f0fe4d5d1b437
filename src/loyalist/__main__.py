"""``python -m loyalist`` is the ``loyalist`` command."""

from loyalist.cli.main import run

run()
