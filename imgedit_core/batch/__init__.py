"""``imgedit batch``: many edits from a JOBS file, bounded, journaled and resumable.

``jobs`` reads and checks the file, ``plan`` checks each job against its model and names its
outputs, ``journal`` records what happened, ``resume`` decides what a rerun skips or mends,
``commit`` saves results crash-safely, ``runner`` runs the jobs on an ``AsyncClient``, and
``summary`` says how it went. See docs/batch.md.
"""
