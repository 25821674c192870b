-- The trial's one store: a "shop" database on the same PostgreSQL (docker-entrypoint-initdb.d
-- runs this once, on an empty data volume). Replace it with your own stores and catalog.
CREATE DATABASE shop;
\connect shop
CREATE TABLE customers (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL
);
INSERT INTO customers (email, full_name) VALUES
    ('alice@example.com', 'Alice Example'),
    ('bob@example.com', 'Bob Example');
