"""`python -m dlcc` is the same as the `dlcc` command."""

from dlcc.cli import main

main()
