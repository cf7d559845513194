"""``python -m imgedit_core``: the same as the ``imgedit`` command."""

from .cli.main import main

if __name__ == "__main__":
    main()
