-- Demo "support" store: tickets and their messages. Tickets carry the requester's e-mail and,
-- when the agent linked it, the shop customer id (which the shop store resolves).
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    requester_email TEXT NOT NULL,
    customer_id INTEGER,
    subject TEXT NOT NULL,
    opened_at TEXT NOT NULL
);
CREATE TABLE ticket_messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL
);

INSERT INTO tickets VALUES
 (500, 'alice@example.com',      1,    'Where is my order 101?',      '2024-06-14T08:00:00Z'),
 (501, 'bob@example.com',        2,    'Drill arrived broken',        '2024-06-20T13:00:00Z'),
 (502, 'alice.work@example.org', 1,    'Invoice for my employer',     '2024-07-21T09:15:00Z'),
 (503, 'carol@example.com',      NULL, 'Change my address',           '2024-08-10T10:00:00Z'),
 (504, 'alice@example.com',      NULL, 'Newsletter unsubscribe',      '2024-09-01T07:30:00Z');

INSERT INTO ticket_messages VALUES
 (900, 500, 'alice@example.com',      'Hi, order 101 has not arrived. Alice'),
 (901, 500, 'agent:sam',              'Sorry Alice, it ships tomorrow.'),
 (902, 501, 'bob@example.com',        'The drill is broken, Bob'),
 (903, 502, 'alice.work@example.org', 'Please address the invoice to my employer.'),
 (904, 503, 'carol@example.com',      'New address: 4 Client Close'),
 (905, 504, 'alice@example.com',      'Please unsubscribe me.'),
 (906, 501, 'agent:kim',              'Replacement sent.');
