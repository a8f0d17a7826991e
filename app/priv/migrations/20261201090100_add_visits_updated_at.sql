-- When the counter last moved (POST /visits sets it).
ALTER TABLE visits ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
