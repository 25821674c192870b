-- Demo "shop" store: customers, their addresses, orders and order items.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    phone TEXT,
    created_at TEXT NOT NULL,
    processing_restricted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    postcode TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id),
    shipping_name TEXT,
    shipping_address TEXT,
    total_cents INTEGER NOT NULL,
    placed_at TEXT NOT NULL
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

INSERT INTO customers VALUES
 (1, 'alice@example.com', 'Alice Example', '+44 20 7946 0101', '2024-01-05T10:00:00Z', 0),
 (2, 'bob@example.com',   'Bob Builder',   '+44 20 7946 0202', '2024-02-11T09:30:00Z', 0),
 (3, 'carol@example.com', 'Carol Client',  '+44 20 7946 0303', '2024-03-17T14:15:00Z', 0),
 (4, 'dave@example.com',  'Dave Doe',      NULL,               '2024-04-02T08:45:00Z', 0);

INSERT INTO addresses VALUES
 (10, 1, '1 Acacia Avenue',  'London',     'N1 1AA'),
 (11, 1, '22 Work Street',   'London',     'EC1 2BB'),
 (12, 2, '3 Builder Row',    'Leeds',      'LS1 3CC'),
 (13, 3, '4 Client Close',   'Bristol',    'BS1 4DD'),
 (14, 4, '5 Doe Drive',      'Manchester', 'M1 5EE');

INSERT INTO orders VALUES
 (100, 1, 'Alice Example', '1 Acacia Avenue, London',  4599, '2024-05-01T12:00:00Z'),
 (101, 1, 'Alice Example', '22 Work Street, London',   1250, '2024-06-12T16:20:00Z'),
 (102, 2, 'Bob Builder',   '3 Builder Row, Leeds',     9900, '2024-06-13T10:05:00Z'),
 (103, 1, 'Alice Example', '1 Acacia Avenue, London',   799, '2024-07-20T18:40:00Z'),
 (104, 3, 'Carol Client',  '4 Client Close, Bristol',  3400, '2024-08-08T11:11:00Z'),
 (105, 4, 'Dave Doe',      '5 Doe Drive, Manchester',  2100, '2024-09-09T09:09:00Z');

INSERT INTO order_items VALUES
 (100, 1, 'TEA-001', 2), (100, 2, 'MUG-010', 1),
 (101, 1, 'BOOK-42', 1),
 (102, 1, 'DRILL-9', 1), (102, 2, 'BITS-12', 3),
 (103, 1, 'TEA-002', 1),
 (104, 1, 'LAMP-07', 1),
 (105, 1, 'TEA-001', 5);
