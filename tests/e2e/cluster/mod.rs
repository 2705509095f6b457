//! The Raft orderer under failures, with real `phr` processes on loopback.

mod faults;
mod harness;
mod membership;
