//! The Raft orderer under failures, with real `phr` processes on loopback.

mod divergence;
mod faults;
mod harness;
mod membership;
mod upgrade;
