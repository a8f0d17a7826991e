-- The visit counter behind GET/POST /visits: one row per counter (the app uses id 1).
CREATE TABLE visits (
  id integer PRIMARY KEY,
  count bigint NOT NULL DEFAULT 0 CHECK (count >= 0)
);
