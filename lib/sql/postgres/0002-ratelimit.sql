-- Rate-limit buckets (GCRA): the theoretical arrival time of the next
-- request, in microseconds since the epoch. A bucket whose tat has
-- passed is full, the same as a missing one.
CREATE TABLE kv_buckets (
	key text PRIMARY KEY,
	tat bigint NOT NULL
);
CREATE INDEX kv_buckets_tat ON kv_buckets (tat);
