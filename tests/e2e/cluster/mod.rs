//! The Raft orderer under failures, with real `phr` processes on loopback.

mod divergence;
mod faults;
mod flood;
mod harness;
mod membership;
mod upgrade;
