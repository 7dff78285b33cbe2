-- The time by which a claimed request must be dialed: the earliest of its expiration, the
-- close of its calling hours (in the recipient's zone, as the claim evaluated them) and the
-- end of its campaign's schedule. Set by every claim; a re-send of the batch after a failed
-- call leaves out the requests past it, so no call starts after the hours or the schedule
-- close. Null for requests not claimed since (a re-send then reads the expiration).
alter table dial_request add column dial_by timestamptz;
