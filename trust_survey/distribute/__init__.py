"""Distribute: what was sent to whom, who has answered, what goes back to them, and the email around it.

Stages, in order: :mod:`.register` (the distribution register written beside a built round and recorded in
the store) -> :mod:`.send` (the round's invitations by email) -> :mod:`.status` (who has returned what, whom
to chase, what changed between two returns) -> :mod:`.chase` (reminders to those still owing a return) ->
:mod:`.feedback` (a workbook of issues for each organisation whose return has some).

Email parts used by send and chase: :mod:`.template` renders a small Markdown message template to a
plain-text part and an HTML part; :mod:`.message` builds one email (headers, both parts, attachments) with a
stable Message-ID; :mod:`.transport` hands messages over (``.eml`` files in an outbox folder, or an SMTP
server); :mod:`.ledger` records every message in the store's send ledger. :mod:`.mailin` takes the
attachments out of saved ``.eml`` and Outlook ``.msg`` files for ``ingest``.
"""
