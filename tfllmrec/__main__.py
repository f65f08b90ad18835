"""`python -m tfllmrec` runs the command line."""

from tfllmrec.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
