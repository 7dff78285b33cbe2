-- A request's contact phase and call outcome are written only as the spellings of the Rust
-- enums crate::contacts::{Phase, Outcome} (src/queue/store.rs reads and writes them), and a
-- value the code does not know is refused when read. The database now refuses it when
-- written, so every stored row reads back. NULL stays allowed: no contact yet, no outcome yet.
--
-- `reason` keeps free text: besides the codes of src/queue/lifecycle.rs (FailureReason) it
-- holds, for contacts the reconciler ended, the contact center's reason in words.
--
-- Every value written so far is one of these spellings, so existing rows pass.
alter table dial_request
    add constraint dial_request_contact_phase_known check (contact_phase in
        ('creating', 'initiated', 'answered', 'queued', 'connected', 'disconnected', 'completed')),
    add constraint dial_request_outcome_known check (outcome in
        ('lost', 'no_answer', 'busy', 'invalid', 'answered', 'machine', 'abandoned', 'connected'));
