"""Messages to data subjects and staff: what is sent when, templates, and the transports.

The ledger projection decides what to send (``kinds.plan``) and writes it to the outbox in the
projection's own transaction; the application layer's sender (``dsrflow.service.messages``)
renders each message from its template and delivers it over SMTP or a signed webhook. Importing
this package is light: the projection imports ``kinds`` on every snapshot.
"""
