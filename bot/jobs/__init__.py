"""Evaluation work as durable jobs on PgQueuer: what a job carries (payloads), how it is put on
the queue (enqueue, inside the caller's transaction), what runs it (the worker, inside every
app process and as `romashka worker`) and the handlers themselves."""
