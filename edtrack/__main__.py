"""``python -m edtrack``: the same CLI as the ``edtrack`` command."""

from edtrack.cli import main

main()
