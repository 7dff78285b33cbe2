-- A batch's answer (the contact created for each of its requests) is kept on the batch row,
-- aligned with request_ids, instead of being written into each request row: that write was
-- a third update of every request (claimed, contact recorded, outcome) and met the event
-- writers' update of the same rows while the call's first events were coming in. A request
-- row learns its contact id from its contact's events; until then readers take it from here.
alter table contact_batch add column contact_ids text[];
update contact_batch b
set contact_ids = array(
    select d.contact_id
    from unnest(b.request_ids) with ordinality as r(id, i)
    left join dial_request d on d.id = r.id and d.batch_id = b.id
    order by r.i)
where b.resolved_at is not null;

-- Events that carry only a contact id find their request through the batch that created
-- the contact; the request rows' own index on contact_id is then needed by nothing.
create index contact_batch_contacts on contact_batch using gin (contact_ids);
drop index dial_request_contact;

-- A request's contact: recorded on its row by the contact's events, or else in the answer of
-- the batch that created it.
create function dial_request_contact_id(d dial_request) returns text
language sql stable as $$
    select coalesce(d.contact_id,
                    (select b.contact_ids[array_position(b.request_ids, d.id)]
                     from contact_batch b where b.id = d.batch_id))
$$;
