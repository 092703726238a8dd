//! SPEC §6 forecast — being written.
