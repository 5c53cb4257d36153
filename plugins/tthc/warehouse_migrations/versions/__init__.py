"""The warehouse's schema revisions, oldest first: ``v<revision>_<slug>.py``, each one ``upgrade()``.

A package so the modules import like any other of ``tthc`` (the import-cycle test imports them all);
Alembic reads the files itself and skips this one.
"""
