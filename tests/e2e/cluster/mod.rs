//! The Raft orderer under failures, with real `phr` processes on loopback.

mod clock;
mod divergence;
mod faults;
mod fhir;
mod flood;
mod gateway;
mod harness;
mod membership;
mod upgrade;
mod web;
