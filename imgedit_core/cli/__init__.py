"""The ``imgedit`` command line. Command modules import only click at load time."""
