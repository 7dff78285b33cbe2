-- Events that carry only a contact id find their request through a btree-indexed table of
-- (contact, batch, request) instead of the GIN index over contact_batch.contact_ids. Vacuum
-- removes a GIN index's dead entries but never deletes its entry-tree pages, and contact ids
-- (random UUIDs) never come back: with retention deleting batches the index grew by about
-- 0.5 MiB a minute at 100 requests/s while the table stayed flat (BENCHMARKS.md, soak). A
-- btree's emptied pages are recycled and new random keys land in the freed space, so the
-- lookup table levels off with its rows.
--
-- The rows are written by the statement that resolves a batch (its answer stays on the batch
-- row too, aligned with request_ids, for `dial_request_contact_id`), and deleted with the
-- batch by the trigger below, whichever statement deletes it (retention, a campaign's delete).
create table contact_batch_contact (
    contact_id text primary key,
    batch_id   uuid not null,
    request_id uuid not null
);

insert into contact_batch_contact (contact_id, batch_id, request_id)
select r.contact_id, b.id, r.id
from contact_batch b cross join unnest(b.request_ids, b.contact_ids) as r(id, contact_id)
where r.contact_id is not null
on conflict (contact_id) do nothing;

drop index contact_batch_contacts;

-- Once per deleting statement, not per row: the sweeper deletes batches in bulk.
create function contact_batch_contact_forget() returns trigger
language plpgsql as $$
begin
    delete from contact_batch_contact m
    using gone g cross join unnest(g.contact_ids) as c(contact_id)
    where m.contact_id = c.contact_id and m.batch_id = g.id;
    return null;
end
$$;

create trigger contact_batch_contact_forget after delete on contact_batch
    referencing old table as gone
    for each statement execute function contact_batch_contact_forget();
