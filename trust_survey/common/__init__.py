"""Small helpers that every stage shares and that know nothing of any stage.

:mod:`.constants` (sheet and column names of a return), :mod:`.cells` (``B7``-style addresses),
:mod:`.values` (blank and date predicates), :mod:`.safe_text` (text that never runs as a formula),
:mod:`.redact` (contact details out of free text), :mod:`.hashing` (file hashes), :mod:`.yamlfile`
(YAML with errors that say where) and :mod:`.problems` (a strict loader's errors as lines).
"""
