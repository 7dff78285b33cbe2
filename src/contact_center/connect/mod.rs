//! Amazon Connect: the wire types of the operations and events the dialer uses beyond
//! `BatchPutContact`, and the pure mapping between Connect's contact events and the
//! engine's contact lifecycle ([`wire`]).

pub mod wire;
