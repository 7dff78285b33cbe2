-- Retention (queue.retention_days): the sweeper deletes finished requests, then the contact
-- batches none of whose requests are left, then the simulated center's ledger rows whose
-- batch is gone, each in small batches. These indexes let each delete start at the oldest
-- candidates instead of scanning its table.

-- Finished requests by the time they last changed (a finished request changes only when a
-- late contact completes it). Pending and in-progress rows are not in it, so it never leads
-- the delete to a live request, and the claim's writes to live rows do not touch it.
create index dial_request_finished on dial_request (updated_at)
    where state in ('completed', 'expired', 'failed', 'cancelled');

-- Resolved batches by age: an unresolved batch may still be re-sent, and is never a candidate.
create index contact_batch_resolved on contact_batch (created_at) where resolved_at is not null;

-- Ledger rows by age; a row is deleted once no contact_batch carries its token.
create index sim_ledger_created on sim_ledger (created_at);
