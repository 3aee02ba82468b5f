"""Distribute a round by email: send each organisation its return, chase those still owing one, and
read returns straight from saved emails.

- :mod:`.template` renders a small Markdown message template to a plain-text part and an HTML part;
- :mod:`.message` builds one email (headers, both parts, attachments) with a stable Message-ID;
- :mod:`.transport` hands messages over: ``.eml`` files in an outbox folder, or an SMTP server;
- :mod:`.ledger` records every message in the store's send ledger and answers what was sent;
- :mod:`.send` (the round's invitations) and :mod:`.chase` (reminders) orchestrate them;
- :mod:`.mailin` takes the attachments out of saved ``.eml`` and Outlook ``.msg`` files for ``ingest``.
"""
