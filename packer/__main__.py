"""``python -m packer``: the ``packer`` command without its console script (e.g. from a checkout on PYTHONPATH)."""

from packer.cli import main

raise SystemExit(main())
